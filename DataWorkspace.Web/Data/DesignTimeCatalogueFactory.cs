using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace DataWorkspace.Web.Data;

/// <summary>Lets <c>dotnet ef migrations add</c> build the model without starting the app or a database.</summary>
public sealed class DesignTimeCatalogueFactory : IDesignTimeDbContextFactory<CatalogueDbContext>
{
    public CatalogueDbContext CreateDbContext(string[] args)
    {
        var options = new DbContextOptionsBuilder<CatalogueDbContext>();
        options.UseCatalogue("Host=localhost;Database=catalogue");
        return new CatalogueDbContext(options.Options);
    }
}
