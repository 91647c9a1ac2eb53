using DataWorkspace.Accounts;
using DataWorkspace.Contracts;

namespace DataWorkspace.Proxy.SignIn;

/// <summary>
/// Catches up on deactivations this replica may not have heard of: whenever it starts listening for account notices
/// (at start, and after the listening connection was lost), it asks the web app which of the users with sessions, and
/// of those it already counts as deactivated, are deactivated now, and ends those users' sessions. A deactivation made
/// while no replica was listening thus ends the sessions as soon as one is, not at their next check with the identity
/// provider. Until the web app answers, it is asked again, less and less often.
/// </summary>
public sealed class DeactivationCatchUp(SessionStore sessions, DeactivatedUsers deactivated, AccountsClient accounts, ILogger<DeactivationCatchUp> logger)
    : BackgroundService, IAccountNoticeHandler
{
    private static readonly TimeSpan MaxBackOff = TimeSpan.FromSeconds(30);
    private readonly SemaphoreSlim due = new(0, 1);

    public void OnNotice(AccountNotice notice)
    {
        // Notices are the session store's to act on; this only catches up on those that may have been missed.
    }

    public void OnResume()
    {
        try
        {
            due.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already due.
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            await due.WaitAsync(stoppingToken);
            var backOff = TimeSpan.FromSeconds(1);
            while (!await CatchUpAsync(stoppingToken))
            {
                await Task.Delay(backOff, stoppingToken);
                backOff = backOff * 2 < MaxBackOff ? backOff * 2 : MaxBackOff;
            }
        }
    }

    /// <summary>One catch-up; false when the web app or the sessions table did not answer.</summary>
    public async Task<bool> CatchUpAsync(CancellationToken cancellationToken)
    {
        try
        {
            var mark = deactivated.Mark();
            var users = (await sessions.SignedInUsersAsync()).Union(deactivated.All, StringComparer.Ordinal).ToList();
            var leavers = await accounts.DeactivatedAmongAsync(users, cancellationToken);
            deactivated.Answered(users, leavers, mark);
            if (leavers.Count == 0) return true;
            var ended = await sessions.EndSessionsOfAsync(leavers);
            if (ended > 0) logger.LogInformation("Ended {Count} session(s) of deactivated users whose deactivation this replica had not heard of", ended);
            return true;
        }
        catch (Exception exception) when (exception is PortalUnavailableException or SessionsUnavailableException)
        {
            logger.LogWarning("Could not catch up on deactivations made while this replica was not listening for them ({Reason}); trying again",
                (exception as SessionsUnavailableException)?.InnerException?.Message ?? exception.Message);
            return false;
        }
    }

    public override void Dispose()
    {
        due.Dispose();
        base.Dispose();
    }
}
