using System.Security.Claims;
using DataWorkspace.Accounts;
using DataWorkspace.Contracts;
using DataWorkspace.Web.Audit;
using DataWorkspace.Web.Data;
using DataWorkspace.Web.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;

namespace DataWorkspace.Web.Users;

/// <summary>
/// What else a deactivation ends, implemented by the features that own it (running tools, database logins). Called
/// after the deactivation is saved, in the reverse order of registration, so the features above go first (the user's
/// tools, which hold database connections, before their logins); what a step cannot finish, that feature's own
/// background job finishes.
/// </summary>
public interface IDeactivationStep
{
    Task EndAsync(string userId, string userEmail, Actor actor, CancellationToken cancellationToken);
}

/// <summary>The outcome of a deactivation or reactivation, in words for the administrator.</summary>
public sealed record AccountOutcome(bool Done, string Message);

/// <summary>A user's account refused because an administrator deactivated it.</summary>
public sealed class AccountDeactivatedException(string userId)
    : Exception($"The account of user '{userId}' is deactivated: it gets no database login, tool or session.")
{
    public string UserId { get; } = userId;
}

/// <summary>
/// Deactivating and reactivating users. A deactivation is saved, audited and told to every replica of the proxy and
/// the web app in one transaction (an <see cref="AccountNotice"/>: the proxy ends the user's sessions, which it owns);
/// then the <see cref="IDeactivationStep"/>s stop the user's tools and drop their database logins. Sign-in is refused
/// for as long as the user stays deactivated, whatever the identity provider says: the proxy reports each sign-in here
/// (<see cref="SignInAsync"/>) and asks which users are deactivated (<see cref="DeactivatedAmongAsync"/>).
/// </summary>
public sealed class UserAccounts(
    CatalogueDbContext catalogue,
    AuditLog audit,
    DeactivatedUsers deactivated,
    IEnumerable<IDeactivationStep> steps,
    TimeProvider time,
    ILogger<UserAccounts> logger)
{
    public async Task<AccountOutcome> DeactivateAsync(string userId, ClaimsPrincipal admin, CancellationToken cancellationToken)
    {
        var actor = Actor.Of(admin);
        if (userId == actor.Id) return new(false, "You cannot deactivate your own account: ask another administrator.");

        var (outcome, email) = await catalogue.InTransactionAsync(async token =>
        {
            catalogue.ChangeTracker.Clear();
            var user = await catalogue.Users.FirstOrDefaultAsync(u => u.Id == userId, token);
            if (user is null) return (new AccountOutcome(false, "There is no such user."), "");
            if (user.DeactivatedAt is not null) return (new AccountOutcome(false, $"{user.Email} is already deactivated."), user.Email);

            user.DeactivatedAt = time.GetUtcNow();
            user.DeactivatedBy = actor.Email;
            audit.Add(AuditActions.UserDeactivated, actor, $"{actor.Email} deactivated {user.Email}: signed out everywhere", subjectUserId: userId);
            await catalogue.SaveChangesAsync(token);
            await NotifyAsync(new AccountNotice(AccountChange.Deactivated, userId), token);
            return (new AccountOutcome(true, $"{user.Email} is deactivated: signed out everywhere, tools stopped, database access removed."), user.Email);
        }, cancellationToken);
        if (!outcome.Done) return outcome;

        deactivated.Forget();
        logger.LogInformation("{Admin} deactivated {User}", actor.Email, email);
        foreach (var step in steps.Reverse())
        {
            try
            {
                // Finished even if the administrator's request goes away: a half-ended account helps nobody.
                await step.EndAsync(userId, email, actor, CancellationToken.None);
            }
            catch (Exception exception)
            {
                logger.LogError(exception, "Deactivating {User}: {Step} did not finish; its background job finishes it", email, step.GetType().Name);
            }
        }

        return outcome;
    }

    public async Task<AccountOutcome> ReactivateAsync(string userId, ClaimsPrincipal admin, CancellationToken cancellationToken)
    {
        var actor = Actor.Of(admin);
        var outcome = await catalogue.InTransactionAsync(async token =>
        {
            catalogue.ChangeTracker.Clear();
            var user = await catalogue.Users.FirstOrDefaultAsync(u => u.Id == userId, token);
            if (user is null) return new AccountOutcome(false, "There is no such user.");
            if (user.DeactivatedAt is null) return new AccountOutcome(false, $"{user.Email} is not deactivated.");

            (user.DeactivatedAt, user.DeactivatedBy) = (null, null);
            audit.Add(AuditActions.UserReactivated, actor, $"{actor.Email} reactivated {user.Email}: they may sign in again", subjectUserId: userId);
            await catalogue.SaveChangesAsync(token);
            await NotifyAsync(new AccountNotice(AccountChange.Reactivated, userId), token);
            return new AccountOutcome(true, $"{user.Email} is reactivated: they can sign in again.");
        }, cancellationToken);
        if (outcome.Done) deactivated.Forget();
        return outcome;
    }

    /// <summary>
    /// A sign-in the identity provider accepted, as the proxy reports it: recorded in the audit log, and refused (and
    /// recorded as refused) when an administrator has deactivated the user.
    /// </summary>
    public async Task<SignInDecision> SignInAsync(SignInReport report, CancellationToken cancellationToken)
    {
        var deactivated = await catalogue.Users.AnyAsync(u => u.Id == report.UserId && u.DeactivatedAt != null, cancellationToken);
        var from = report.ClientIp is null ? "" : $" from {report.ClientIp}";
        audit.Add(deactivated ? AuditActions.SignInRefused : AuditActions.SignedIn, new Actor(report.UserId, report.Email, report.ClientIp),
            deactivated ? $"{report.Email} was refused sign-in: the account is deactivated{from}" : $"{report.Email} signed in{from}",
            subjectUserId: report.UserId);
        await catalogue.SaveChangesAsync(cancellationToken);
        return new SignInDecision(deactivated);
    }

    /// <summary>Those of <paramref name="userIds"/> an administrator has deactivated, read now (the proxy's session checks ask).</summary>
    public async Task<List<string>> DeactivatedAmongAsync(IReadOnlyList<string> userIds, CancellationToken cancellationToken) =>
        await catalogue.Users.AsNoTracking().Where(u => userIds.Contains(u.Id) && u.DeactivatedAt != null).Select(u => u.Id).ToListAsync(cancellationToken);

    private Task NotifyAsync(AccountNotice notice, CancellationToken cancellationToken) =>
        AccountNotices.SendAsync(catalogue.Database.GetDbConnection(), catalogue.Database.CurrentTransaction?.GetDbTransaction(), notice, cancellationToken);
}

public static class UserAccountsExtensions
{
    /// <summary>Deactivation: the accounts service, the deactivated users every request is checked against, and the listener that keeps them current.</summary>
    public static IServiceCollection AddUserAccounts(this IServiceCollection services) => services
        .AddSingleton<DeactivatedUsers>()
        .AddSingleton<IAccountNoticeHandler>(provider => provider.GetRequiredService<DeactivatedUsers>())
        .AddAccountNotices()
        .AddScoped<UserAccounts>();
}
