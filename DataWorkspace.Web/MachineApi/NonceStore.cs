using Microsoft.Extensions.Options;
using Npgsql;
using DataWorkspace.Web.Time;

namespace DataWorkspace.Web.MachineApi;

/// <summary>
/// Remembers nonces in the catalogue database, so a replay is caught whichever web replica it reaches. The primary
/// key decides: the first insert of a (client, nonce) wins, any later one inserts nothing.
/// </summary>
public sealed class NonceStore(NpgsqlDataSource dataSource, IOptionsMonitor<MachineApiOptions> options, [FromKeyedServices(Clock.Real)] TimeProvider time, ILogger<NonceStore> logger)
{
    private static readonly TimeSpan PurgeEvery = TimeSpan.FromMinutes(1);
    private long nextPurgeTicks;

    /// <summary>True when the nonce is new for this client; false when it was seen within the window (a replay).</summary>
    public async Task<bool> TryRecordAsync(string clientId, string nonce, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        await using var command = dataSource.CreateCommand(
            $"INSERT INTO {MachineApiNonce.Table} (client_id, nonce, seen_at) VALUES ($1, $2, $3) ON CONFLICT (client_id, nonce) DO NOTHING");
        command.Parameters.Add(new NpgsqlParameter { Value = clientId });
        command.Parameters.Add(new NpgsqlParameter { Value = nonce });
        command.Parameters.Add(new NpgsqlParameter { Value = now });
        var inserted = await command.ExecuteNonQueryAsync(cancellationToken) == 1;

        await PurgeIfDueAsync(now, cancellationToken);
        return inserted;
    }

    private async Task PurgeIfDueAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        // One request a minute per replica pays for the purge; the others skip it.
        var due = Interlocked.Read(ref nextPurgeTicks);
        if (now.UtcTicks < due || Interlocked.CompareExchange(ref nextPurgeTicks, (now + PurgeEvery).UtcTicks, due) != due) return;

        await using var command = dataSource.CreateCommand($"DELETE FROM {MachineApiNonce.Table} WHERE seen_at < $1");
        command.Parameters.Add(new NpgsqlParameter { Value = now - 2 * options.CurrentValue.ClockSkew });
        var purged = await command.ExecuteNonQueryAsync(cancellationToken);
        if (purged > 0) logger.LogDebug("Purged {Count} machine API nonces older than the replay window", purged);
    }
}
