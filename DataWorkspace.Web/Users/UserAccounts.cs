using System.Security.Claims;
using DataWorkspace.Accounts;
using DataWorkspace.Contracts;
using DataWorkspace.Web.Audit;
using DataWorkspace.Web.Data;
using DataWorkspace.Web.Identity;
using Microsoft.EntityFrameworkCore;

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
/// Deactivating and reactivating users. A deactivation is saved, audited, ends every session of the user (their rows
/// in <c>proxy_sessions</c>) and tells every replica of the proxy and the web app in one transaction; then the
/// <see cref="IDeactivationStep"/>s stop the user's tools and drop their database logins. Sign-in is refused by the
/// proxy for as long as the user stays deactivated, whatever the identity provider says.
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
            var sessions = await catalogue.Set<ProxySession>().Where(s => s.UserId == userId).ExecuteDeleteAsync(token);
            audit.Add(AuditActions.UserDeactivated, actor,
                $"{actor.Email} deactivated {user.Email} ({sessions} session(s) ended)", subjectUserId: userId);
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

    // In the change's transaction: every replica hears it when, and only if, the change commits.
    private Task NotifyAsync(AccountNotice notice, CancellationToken cancellationToken) =>
        catalogue.Database.ExecuteSqlAsync($"SELECT pg_notify({AccountNotice.Channel}, {notice.ToPayload()})", cancellationToken);

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
