using DataWorkspace.Web.DatabaseAccess;

namespace DataWorkspace.Web.Explorer;

public static class ExplorerSetup
{
    /// <summary>The Data Explorer: queries run with the user's own login, their results kept for a while.</summary>
    public static WebApplicationBuilder AddExplorer(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<ExplorerInstruments>();
        builder.Services.AddSingleton<QueryRunner>();
        builder.Services.AddSingleton<IDatasetsCleanup, OldResultsCleanup>();
        return builder;
    }

    public static WebApplication MapExplorer(this WebApplication app)
    {
        app.MapExplorerApi();
        return app;
    }
}

/// <summary>Drops the Data Explorer's old result tables in each round of the data access job.</summary>
public sealed class OldResultsCleanup(QueryRunner queries) : IDatasetsCleanup
{
    public Task CleanUpAsync(CancellationToken cancellationToken) => queries.DropOldResultsAsync(cancellationToken);
}
