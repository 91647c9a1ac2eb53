using Microsoft.Extensions.Logging;
using Npgsql;

namespace DataWorkspace.Migrations;

/// <summary>What every migration step (the web app's and the proxy's, run side by side) does first.</summary>
public static class PostgresDatabase
{
    /// <summary>Creates the database <paramref name="connectionString"/> names if it is missing; another step creating it at the same moment is fine.</summary>
    public static async Task EnsureExistsAsync(string connectionString, ILogger logger, CancellationToken cancellationToken)
    {
        var target = new NpgsqlConnectionStringBuilder(connectionString);
        var database = target.Database ?? throw new InvalidOperationException("The connection string names no database.");
        var maintenance = new NpgsqlConnectionStringBuilder(connectionString) { Database = "postgres", Pooling = false };

        await using var connection = new NpgsqlConnection(maintenance.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        await using var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = $1", connection)
        {
            Parameters = { new NpgsqlParameter { Value = database } },
        };
        if (await exists.ExecuteScalarAsync(cancellationToken) is not null)
        {
            logger.LogInformation("Database {Database} exists", database);
            return;
        }

        var quoted = "\"" + database.Replace("\"", "\"\"") + "\"";
        await using var create = new NpgsqlCommand($"CREATE DATABASE {quoted} ENCODING 'UTF8'", connection);
        try
        {
            await create.ExecuteNonQueryAsync(cancellationToken);
            logger.LogInformation("Created database {Database}", database);
        }
        catch (PostgresException exception) when (exception.SqlState is PostgresErrorCodes.DuplicateDatabase or PostgresErrorCodes.UniqueViolation)
        {
            logger.LogInformation("Database {Database} was created concurrently", database);
        }
    }
}
