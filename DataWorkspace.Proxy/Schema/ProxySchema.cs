using System.Reflection;
using DataWorkspace.DataProtection;
using DataWorkspace.Migrations;
using Npgsql;

namespace DataWorkspace.Proxy.Schema;

/// <summary>
/// The proxy's own tables, in the <c>proxy</c> schema of the catalogue database: its sessions and its Data Protection
/// keys (the step also makes the key ring's first key, see <see cref="CatalogueKeyRing"/>). Nothing else writes them, and the proxy writes no other project's tables. They are made by the SQL scripts in
/// <c>Schema/Migrations</c> (embedded in the assembly), applied in the order of their names by
/// <c>DataWorkspace.Proxy migrate</c> (the AppHost's <c>proxy-migrations</c> step) and recorded in
/// <c>proxy.schema_migrations</c>. A script that has been applied anywhere is never edited: a change is a new script.
/// </summary>
public static class ProxySchema
{
    public const string Command = "migrate";
    public const string Name = "proxy";
    public const string Sessions = Name + ".sessions";
    public const string DataProtectionKeys = Name + ".data_protection_keys";
    public const string History = Name + ".schema_migrations";

    private const string ResourcePrefix = "proxy-schema/";

    /// <summary>The migration step: makes the catalogue database if it is missing, applies the scripts not yet applied, then exits.</summary>
    public static async Task<int> MigrateAsync(string[] args)
    {
        var builder = Host.CreateApplicationBuilder(args);
        builder.AddServiceDefaults();
        using var host = builder.Build();
        var logger = host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("DataWorkspace.Proxy.Migrations");
        var stopping = host.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;
        try
        {
            var connectionString = builder.Configuration.GetConnectionString("catalogue")
                ?? throw new InvalidOperationException("ConnectionStrings:catalogue is not set: the proxy's migration step needs the catalogue database.");
            await PostgresDatabase.EnsureExistsAsync(connectionString, logger, stopping);
            await ApplyAsync(connectionString, logger, stopping);
            if (await CatalogueKeyRing.EnsureKeyAsync(connectionString, DataProtectionKeys, stopping))
                logger.LogInformation("Made the first Data Protection key of the proxy's key ring");
            return 0;
        }
        catch (Exception exception) when (exception is NpgsqlException or InvalidOperationException)
        {
            logger.LogCritical(exception, "The proxy's migration step failed: {Message}", exception.Message);
            return 1;
        }
    }

    /// <summary>The scripts, by id (the file name without <c>.sql</c>), in the order they are applied.</summary>
    public static IReadOnlyList<(string Id, string Sql)> Scripts()
    {
        var assembly = typeof(ProxySchema).Assembly;
        return [.. assembly.GetManifestResourceNames()
            .Where(name => name.StartsWith(ResourcePrefix, StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .Select(name => (Path.GetFileNameWithoutExtension(name[ResourcePrefix.Length..]), Read(assembly, name)))];
    }

    /// <summary>Applies the scripts not yet applied, each in a transaction with its line in the history.</summary>
    public static async Task ApplyAsync(string connectionString, ILogger logger, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        // Steps started together (two replicas, a restart under way) apply each script once: the later one waits here.
        // The lock is the session's, so it goes with the connection.
        await ExecuteAsync(connection, null, "SELECT pg_advisory_lock(hashtext('DataWorkspace.Proxy schema'))", cancellationToken);
        await ExecuteAsync(connection, null,
            $"CREATE SCHEMA IF NOT EXISTS {Name}; CREATE TABLE IF NOT EXISTS {History} (id text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
            cancellationToken);

        var applied = new HashSet<string>(StringComparer.Ordinal);
        await using (var read = new NpgsqlCommand($"SELECT id FROM {History}", connection))
        await using (var reader = await read.ExecuteReaderAsync(cancellationToken))
            while (await reader.ReadAsync(cancellationToken)) applied.Add(reader.GetString(0));

        var scripts = Scripts();
        if (applied.Except(scripts.Select(script => script.Id)).ToList() is { Count: > 0 } unknown)
            logger.LogWarning("The proxy schema has migrations this build does not know ({Migrations}): it was migrated by a newer build", unknown);
        var pending = scripts.Where(script => !applied.Contains(script.Id)).ToList();
        logger.LogInformation("Proxy schema: {Count} migration(s) to apply {Migrations}", pending.Count, pending.Select(script => script.Id));
        foreach (var (id, sql) in pending)
        {
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            await ExecuteAsync(connection, transaction, sql, cancellationToken);
            await ExecuteAsync(connection, transaction, $"INSERT INTO {History} (id) VALUES ($1)", cancellationToken, id);
            await transaction.CommitAsync(cancellationToken);
            logger.LogInformation("Applied {Migration}", id);
        }

        logger.LogInformation("Proxy schema is up to date");
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql, CancellationToken cancellationToken, params object[] values)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        foreach (var value in values) command.Parameters.Add(new NpgsqlParameter { Value = value });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static string Read(Assembly assembly, string name)
    {
        using var stream = assembly.GetManifestResourceStream(name)!;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
