using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace DataWorkspace.Web.Data;

/// <summary>
/// The migration step: run as <c>DataWorkspace.Web migrate</c> (the AppHost's <c>migrations</c> resource) before the
/// web app and the proxy start. Creates the catalogue and datasets databases if they are missing, applies the EF Core
/// migrations, then exits.
/// </summary>
public static class DatabaseMigrator
{
    public const string Command = "migrate";

    /// <param name="seed">Run after the migrations with the catalogue and the datasets database's connection string (the demo data), or null.</param>
    public static async Task<int> RunAsync(string[] args, Func<CatalogueDbContext, string, ILogger, CancellationToken, Task>? seed = null)
    {
        var builder = Host.CreateApplicationBuilder(args);
        builder.AddServiceDefaults();
        builder.Services.AddDbContext<CatalogueDbContext>(options =>
            options.UseCatalogue(builder.Configuration.GetConnectionString("catalogue")));

        using var host = builder.Build();
        var logger = host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("DataWorkspace.Migrations");
        var lifetime = host.Services.GetRequiredService<IHostApplicationLifetime>();

        try
        {
            foreach (var name in new[] { "catalogue", "datasets" })
            {
                var connectionString = builder.Configuration.GetConnectionString(name)
                    ?? throw new InvalidOperationException($"ConnectionStrings:{name} is not set: the migration step needs both databases.");
                await EnsureDatabaseAsync(connectionString, logger, lifetime.ApplicationStopping);
            }

            await using var scope = host.Services.CreateAsyncScope();
            var catalogue = scope.ServiceProvider.GetRequiredService<CatalogueDbContext>();
            var pending = (await catalogue.Database.GetPendingMigrationsAsync(lifetime.ApplicationStopping)).ToList();
            logger.LogInformation("Catalogue database: {Count} migration(s) to apply {Migrations}", pending.Count, pending);
            await catalogue.Database.MigrateAsync(lifetime.ApplicationStopping);
            logger.LogInformation("Catalogue database is up to date");

            if (seed is not null)
                await seed(catalogue, builder.Configuration.GetConnectionString("datasets")!, logger, lifetime.ApplicationStopping);
            return 0;
        }
        catch (Exception exception) when (exception is NpgsqlException or InvalidOperationException)
        {
            logger.LogCritical(exception, "The migration step failed: {Message}", exception.Message);
            return 1;
        }
    }

    private static async Task EnsureDatabaseAsync(string connectionString, ILogger logger, CancellationToken cancellationToken)
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
        catch (PostgresException exception) when (exception.SqlState == PostgresErrorCodes.DuplicateDatabase)
        {
            logger.LogInformation("Database {Database} was created concurrently", database);
        }
    }
}
