using DataWorkspace.Contracts;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace DataWorkspace.Accounts;

/// <summary>Something a replica keeps that an <see cref="AccountNotice"/> makes out of date (cached sessions, the deactivated users).</summary>
public interface IAccountNoticeHandler
{
    /// <summary>A notice from any replica, this one's own included. Called on the listener's thread: keep it short.</summary>
    void OnNotice(AccountNotice notice);

    /// <summary>Notices may have been missed (the listening connection was lost, or has just been opened): forget what they would have changed.</summary>
    void OnResume();
}

/// <summary>
/// Listens on <see cref="AccountNotice.Channel"/> with one connection of the catalogue's data source and hands each
/// notice to every <see cref="IAccountNoticeHandler"/>. A lost connection is opened again (with back-off), and the
/// handlers are told they may have missed notices.
/// </summary>
public sealed class AccountNoticeListener(NpgsqlDataSource catalogue, IEnumerable<IAccountNoticeHandler> handlers, ILogger<AccountNoticeListener> logger) : BackgroundService
{
    private static readonly TimeSpan KeepAlive = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan MaxBackOff = TimeSpan.FromSeconds(30);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var backOff = TimeSpan.FromSeconds(1);
        var lost = false;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = await catalogue.OpenConnectionAsync(stoppingToken);
                connection.Notification += (_, notification) => Dispatch(notification.Payload);
                await using (var listen = new NpgsqlCommand($"LISTEN {AccountNotice.Channel}", connection))
                    await listen.ExecuteNonQueryAsync(stoppingToken);
                if (lost) logger.LogInformation("Listening for account changes again");
                foreach (var handler in handlers) handler.OnResume();
                (lost, backOff) = (false, TimeSpan.FromSeconds(1));
                while (true)
                {
                    // A connection that died quietly is only noticed by using it.
                    if (!await connection.WaitAsync(KeepAlive, stoppingToken))
                        await using (var ping = new NpgsqlCommand("SELECT 1", connection))
                            await ping.ExecuteNonQueryAsync(stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception)
            {
                lost = true;
                logger.LogWarning(exception, "Not listening for account changes (deactivations, sign-outs); trying again in {BackOff}", backOff);
                try
                {
                    await Task.Delay(backOff, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                backOff = backOff * 2 < MaxBackOff ? backOff * 2 : MaxBackOff;
            }
        }
    }

    private void Dispatch(string payload)
    {
        if (AccountNotice.FromPayload(payload) is not { } notice)
        {
            logger.LogWarning("Ignored an account notice that could not be read: {Payload}", payload);
            return;
        }

        foreach (var handler in handlers)
        {
            try
            {
                handler.OnNotice(notice);
            }
            catch (Exception exception)
            {
                logger.LogError(exception, "{Handler} failed on {Notice}", handler.GetType().Name, notice);
            }
        }
    }
}

public static class AccountNoticeExtensions
{
    /// <summary>
    /// Listens for account notices; needs the catalogue's <see cref="NpgsqlDataSource"/> and the handlers registered as
    /// <see cref="IAccountNoticeHandler"/>.
    /// </summary>
    public static IServiceCollection AddAccountNotices(this IServiceCollection services) =>
        services.AddHostedService<AccountNoticeListener>();
}
