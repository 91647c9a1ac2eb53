using DataWorkspace.DataProtection;
using DataWorkspace.Migrations;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace DataWorkspace.Web.Data;

/// <summary>
/// The migration step: run as <c>DataWorkspace.Web migrate</c> (the AppHost's <c>migrations</c> resource) before the
/// web app and the proxy start. Creates the catalogue and datasets databases if they are missing, applies the EF Core
/// migrations, makes the first Data Protection key (see <see cref="CatalogueKeyRing"/>), then exits. The migrations were squashed into one Initial before anything was deployed; a database made
/// by the migrations from before cannot be upgraded, and the step says so and what to do (<see cref="PredatesSquash"/>).
/// To squash them again: delete Data/Migrations/, run <c>dotnet ef migrations add Initial --project DataWorkspace.Web
/// --startup-project tests/DataWorkspace.Web.Tests --output-dir Data/Migrations</c>, and end the new Initial's Up and Down with <see cref="InitialCatalogueSql"/>'s.
/// </summary>
public static class DatabaseMigrator
{
    public const string Command = "migrate";

    /// <summary>How to start the local database afresh (the AppHost says, since it knows where the data is): "delete the folder ...".</summary>
    public const string StartAfreshSetting = "Migrations:StartAfresh";

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
                await PostgresDatabase.EnsureExistsAsync(connectionString, logger, lifetime.ApplicationStopping);
            }

            await using var scope = host.Services.CreateAsyncScope();
            var catalogue = scope.ServiceProvider.GetRequiredService<CatalogueDbContext>();
            var applied = await catalogue.Database.GetAppliedMigrationsAsync(lifetime.ApplicationStopping);
            if (PredatesSquash([.. applied], [.. catalogue.Database.GetMigrations()], builder.Configuration[StartAfreshSetting]) is { } predates)
            {
                // Said on stderr, where the AppHost looks for why a step failed; a stack trace would only hide it.
                await Console.Error.WriteLineAsync(predates);
                return 1;
            }

            var pending = (await catalogue.Database.GetPendingMigrationsAsync(lifetime.ApplicationStopping)).ToList();
            logger.LogInformation("Catalogue database: {Count} migration(s) to apply {Migrations}", pending.Count, pending);
            await catalogue.Database.MigrateAsync(lifetime.ApplicationStopping);
            logger.LogInformation("Catalogue database is up to date");
            if (await CatalogueKeyRing.EnsureKeyAsync(builder.Configuration.GetConnectionString("catalogue")!, CatalogueKeyRepository.Table, lifetime.ApplicationStopping))
                logger.LogInformation("Made the first Data Protection key of the web app's key ring");

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

    /// <summary>
    /// What to tell the developer whose database has migrations older than this build's first (those squashed into
    /// it), or null when it has none: such a database cannot be upgraded, only made again.
    /// </summary>
    internal static string? PredatesSquash(IReadOnlyCollection<string> applied, IReadOnlyList<string> known, string? startAfresh)
    {
        if (known.Count == 0) return null;
        var older = applied.Where(id => !known.Contains(id) && string.CompareOrdinal(id, known[0]) < 0).Order(StringComparer.Ordinal).ToList();
        if (older.Count == 0) return null;
        var what = startAfresh is { Length: > 0 } ? startAfresh : "drop the catalogue database (this step makes it again)";
        return $"The catalogue database predates the squash of the web app's migrations into one ({known[0]}): it was made by " +
            $"{older.Count} older migration(s) ({(older.Count == 1 ? older[0] : $"{older[0]} ... {older[^1]}")}) and cannot be upgraded. " +
            $"To start afresh with the demo data: stop the run, {what}, and run again.";
    }
}
