using DataWorkspace.Web.Data;
using Microsoft.EntityFrameworkCore;

namespace DataWorkspace.Web.ToolsAccess;

/// <summary>How tools permissions map to their table.</summary>
[CatalogueTables]
public static class ToolsPermissionModel
{
    extension(CatalogueDbContext catalogue)
    {
        public DbSet<ToolsPermission> ToolsPermissions => catalogue.Set<ToolsPermission>();
    }

    public static void Configure(ModelBuilder model)
    {
        model.Entity<ToolsPermission>(permission =>
        {
            permission.ToTable("tools_permissions");
            permission.HasKey(p => p.UserId);
            permission.Property(p => p.UserId).HasMaxLength(255);
            permission.Property(p => p.Source).HasConversion<string>().HasMaxLength(16);
            permission.HasIndex(p => p.ExpiresAt);
        });
    }
}
