using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace DataWorkspace.Web.Data;

/// <summary>Lets <c>dotnet ef migrations add</c> build the model without starting the app or a database.</summary>
public sealed class DesignTimeCatalogueFactory : IDesignTimeDbContextFactory<CatalogueDbContext>
{
    public CatalogueDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<CatalogueDbContext>().UseNpgsql("Host=localhost;Database=catalogue").Options);
}
