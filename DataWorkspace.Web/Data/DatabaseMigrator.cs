using DataWorkspace.Migrations;
using DataWorkspace.Web.Catalogue;
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

    public static async Task<int> RunAsync(string[] args)
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
            var pending = (await catalogue.Database.GetPendingMigrationsAsync(lifetime.ApplicationStopping)).ToList();
            logger.LogInformation("Catalogue database: {Count} migration(s) to apply {Migrations}", pending.Count, pending);
            await catalogue.Database.MigrateAsync(lifetime.ApplicationStopping);
            logger.LogInformation("Catalogue database is up to date");

            if (args.Contains(DemoCatalogue.Option))
                await DemoCatalogue.SeedAsync(catalogue, builder.Configuration.GetConnectionString("datasets")!, logger, lifetime.ApplicationStopping);
            return 0;
        }
        catch (Exception exception) when (exception is NpgsqlException or InvalidOperationException)
        {
            logger.LogCritical(exception, "The migration step failed: {Message}", exception.Message);
            return 1;
        }
    }
}
