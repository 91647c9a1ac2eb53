using DataWorkspace.Web.Catalogue;
using DataWorkspace.Web.Data;
using Microsoft.EntityFrameworkCore;

namespace DataWorkspace.Web.ReferenceData;

/// <summary>How reference tables and their rows map to tables.</summary>
[CatalogueTables]
public static class ReferenceDataModel
{
    extension(CatalogueDbContext catalogue)
    {
        public DbSet<ReferenceTable> ReferenceTables => catalogue.Set<ReferenceTable>();
    }

    public static void Configure(ModelBuilder model)
    {
        model.Entity<ReferenceTable>(table =>
        {
            table.ToTable("reference_tables");
            table.Property(t => t.TableName).HasMaxLength(63);
            table.HasIndex(t => t.TableName).IsUnique();
            table.HasIndex(t => t.DatasetId).IsUnique();
            table.Property(t => t.Columns).HasColumnType("jsonb").HasConversion(
                columns => System.Text.Json.JsonSerializer.Serialize(columns, ReferenceJson.Options),
                json => System.Text.Json.JsonSerializer.Deserialize<List<ReferenceColumn>>(json, ReferenceJson.Options) ?? new List<ReferenceColumn>(),
                new Microsoft.EntityFrameworkCore.ChangeTracking.ValueComparer<List<ReferenceColumn>>(
                    (a, b) => a!.SequenceEqual(b!), c => c.Aggregate(0, (hash, column) => HashCode.Combine(hash, column)), c => c.ToList()));
            table.HasOne<Dataset>().WithMany().HasForeignKey(t => t.DatasetId).OnDelete(DeleteBehavior.Cascade);
            table.HasMany(t => t.Rows).WithOne().HasForeignKey(r => r.ReferenceTableId).OnDelete(DeleteBehavior.Cascade);
        });

        model.Entity<ReferenceRow>(row =>
        {
            row.ToTable("reference_rows");
            row.HasIndex(r => new { r.ReferenceTableId, r.Position });
        });
    }
}
