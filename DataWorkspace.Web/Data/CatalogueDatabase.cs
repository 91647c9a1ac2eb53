using DataWorkspace.DataProtection;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Npgsql;

namespace DataWorkspace.Web.Data;

public static class CatalogueDatabase
{
    /// <summary>
    /// The catalogue database: its data source, the pooled <see cref="CatalogueDbContext"/> with every registered
    /// <see cref="IInterceptor"/> (features that watch saves register one), and the Data Protection keys kept in it.
    /// </summary>
    public static WebApplicationBuilder AddCatalogueDatabase(this WebApplicationBuilder builder)
    {
        // Statements run often (the search's reader state, EF's lookups) are prepared once per connection, not parsed and
        // planned on every call.
        builder.AddNpgsqlDataSource("catalogue", configureDataSourceBuilder: dataSource =>
            (dataSource.ConnectionStringBuilder.MaxAutoPrepare, dataSource.ConnectionStringBuilder.AutoPrepareMinUsages) = (64, 3));
        builder.Services.AddDbContextPool<CatalogueDbContext>((services, options) =>
            options.UseCatalogue(services.GetRequiredService<NpgsqlDataSource>()).AddInterceptors(services.GetServices<IInterceptor>()));
        builder.EnrichNpgsqlDbContext<CatalogueDbContext>();
        builder.Services.AddDataProtection().SetApplicationName("DataWorkspace.Web").PersistKeysToCatalogue();
        return builder;
    }
}
