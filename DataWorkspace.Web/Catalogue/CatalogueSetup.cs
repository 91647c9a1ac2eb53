using DataWorkspace.Web.Audit;

namespace DataWorkspace.Web.Catalogue;

public static class CatalogueSetup
{
    /// <summary>Datasets, their search and who may read them, and the datasets database their tables are in.</summary>
    public static WebApplicationBuilder AddCatalogue(this WebApplicationBuilder builder)
    {
        builder.AddKeyedNpgsqlDataSource(DatasetsDatabase.ConnectionName);
        builder.Services.AddScoped<DatasetAccess>();
        builder.Services.AddScoped<CatalogueSearch>();
        builder.Services.AddScoped<IAuditedDatasets, AuditedDatasets>();
        builder.Services.AddSingleton<CatalogueSnapshots>();
        builder.Services.AddSingleton<DatasetsDatabase>();
        return builder;
    }

    public static WebApplication MapCatalogue(this WebApplication app)
    {
        app.MapCatalogueApi();
        return app;
    }
}
