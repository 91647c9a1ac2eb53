using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using DataWorkspace.Security;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace DataWorkspace.Proxy.SignIn;

/// <summary>
/// Asks the identity provider, once every <c>Proxy:SessionCheckInterval</c> per session, whether it still accepts
/// each signed-in user (see <see cref="IdentityProviderCheck"/>). A user it no longer accepts is signed out: the
/// session is deleted and every replica told. A session of a user an administrator deactivated ends without asking:
/// the web app, which owns users, is asked which of each batch's users are (while it does not answer, the batch waits
/// for the next round). A provider that does not answer signs nobody out: the sessions are asked again on the next
/// round. Due sessions are read from the database, so those made before a restart or on other replicas are checked
/// too, and replicas share the work (each claims different sessions). One call to the provider per session per
/// interval, never one per request.
/// </summary>
public sealed class SessionCheck(
    SessionStore sessions,
    DeactivatedUsers deactivated,
    AccountsClient accounts,
    IdentityProviderCheck provider,
    SecurityRefusals refusals,
    IOptions<ProxyOptions> options,
    IMeterFactory meters,
    ILogger<SessionCheck> logger) : BackgroundService
{
    private const int Batch = 100;
    private static readonly TimeSpan LongestWait = TimeSpan.FromMinutes(1);

    private readonly Counter<long> checks = meters.Create("DataWorkspace.Proxy").CreateCounter<long>("dataworkspace.sessions.checks", "{session}",
        "Sessions checked with the identity provider, by outcome: confirmed, ended (the provider no longer accepts the user), deactivated, unverifiable (nothing to ask with), provider_unavailable.");

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var every = options.Value.SessionCheckInterval;
        using var timer = new PeriodicTimer(every < LongestWait ? every : LongestWait);
        do
        {
            try
            {
                await CheckDueAsync(stoppingToken);
            }
            catch (Exception exception) when (exception is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning(exception, "Checking sessions with the identity provider failed; trying again in {Interval}", timer.Period);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    /// <summary>Checks every session that is due, in batches; stops at the first batch the provider did not answer for.</summary>
    public async Task CheckDueAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            var due = await sessions.ClaimDueAsync(options.Value.SessionCheckInterval, Batch);
            if (due.Count == 0) return;
            if (!await AskWhoIsDeactivatedAsync(due, cancellationToken)) return;

            var notAsked = new ConcurrentBag<string>();
            var unavailable = 0;
            await Parallel.ForEachAsync(due, new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = cancellationToken }, async (session, token) =>
            {
                // A provider that is down is not asked about every other session too.
                if (Volatile.Read(ref unavailable) > 0)
                {
                    notAsked.Add(session.Key);
                    return;
                }

                if (!await CheckAsync(session, token))
                {
                    Interlocked.Increment(ref unavailable);
                    notAsked.Add(session.Key);
                }
            });

            if (!notAsked.IsEmpty)
            {
                await sessions.CheckAgainSoonAsync(notAsked);
                return;
            }

            if (due.Count < Batch) return;
        }
    }

    /// <summary>Learns which of the sessions' users are deactivated now; false when the web app did not answer (the sessions wait for the next round).</summary>
    private async Task<bool> AskWhoIsDeactivatedAsync(List<SessionStore.DueSession> due, CancellationToken cancellationToken)
    {
        var mark = deactivated.Mark();
        var users = due.Select(session => session.UserId).ToList();
        try
        {
            deactivated.Answered(users, await accounts.DeactivatedAmongAsync(users, cancellationToken), mark);
            return true;
        }
        catch (PortalUnavailableException unavailable)
        {
            logger.LogWarning("{Count} session(s) kept unchecked: whether their users are deactivated cannot be known ({Reason}). They are checked on the next round", due.Count, unavailable.Message);
            await sessions.CheckAgainSoonAsync([.. due.Select(session => session.Key)]);
            return false;
        }
    }

    /// <summary>Checks one session; false when the provider did not answer (the session is kept).</summary>
    private async Task<bool> CheckAsync(SessionStore.DueSession session, CancellationToken cancellationToken)
    {
        var email = session.Ticket?.Principal.ToPlatformUser()?.Email ?? session.UserId;
        if (session.Ticket is not { } ticket)
        {
            await sessions.EndAsync(session.Key);
            logger.LogInformation("Session of {UserId} ended: it could not be read (its key is gone)", session.UserId);
            Count("unverifiable");
            return true;
        }

        if (deactivated.Contains(session.UserId))
        {
            await sessions.EndAsync(session.Key);
            refusals.Record(RefusalReason.Deactivated, $"the session of {email} ended: the account is deactivated");
            Count("deactivated");
            return true;
        }

        var answer = await provider.AskAsync(ticket.Properties, cancellationToken);
        switch (answer.Verdict)
        {
            case ProviderVerdict.Accepted:
                if (answer.Tokens is { } tokens)
                {
                    ticket.Properties.StoreTokens(tokens);
                    await sessions.SaveCheckedAsync(session.Key, ticket);
                }

                Count("confirmed");
                return true;
            case ProviderVerdict.NoLongerAccepted:
                await sessions.EndAsync(session.Key);
                refusals.Record(RefusalReason.Deactivated, $"the session of {email} ended: {answer.Detail}");
                Count("ended");
                return true;
            case ProviderVerdict.NothingToAskWith:
                // Kept, it could outlive the user's account unchecked for the rest of its lifetime: they sign in again.
                await sessions.EndAsync(session.Key);
                logger.LogInformation("Session of {User} ended: {Detail}, so whether the user is still accepted cannot be checked. Ask for the offline_access scope (Oidc:Scopes) to get refresh tokens", email, answer.Detail);
                Count("unverifiable");
                return true;
            default:
                logger.LogWarning("Session of {User} kept unchecked: {Detail}. It is asked again on the next round", email, answer.Detail);
                Count("provider_unavailable");
                return false;
        }
    }

    private void Count(string outcome) => checks.Add(1, new KeyValuePair<string, object?>("outcome", outcome));
}
