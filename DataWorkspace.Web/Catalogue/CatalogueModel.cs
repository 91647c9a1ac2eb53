using DataWorkspace.Web.Data;
using Microsoft.EntityFrameworkCore;

namespace DataWorkspace.Web.Catalogue;

/// <summary>How the catalogue's entities map to tables (snake_case names come from the naming convention).</summary>
[CatalogueTables]
public static class CatalogueModel
{
    extension(CatalogueDbContext catalogue)
    {
        public DbSet<Dataset> Datasets => catalogue.Set<Dataset>();
        public DbSet<Tag> Tags => catalogue.Set<Tag>();
        public DbSet<DatasetPermission> Permissions => catalogue.Set<DatasetPermission>();
        public DbSet<Bookmark> Bookmarks => catalogue.Set<Bookmark>();
    }

    public static void Configure(ModelBuilder model)
    {
        // Before the datasets that link to it, so the link table's key is named after the tags table.
        model.Entity<Tag>(tag =>
        {
            tag.ToTable("tags");
            tag.Property(t => t.Type).HasConversion<string>().HasMaxLength(16);
            tag.Property(t => t.Name).HasMaxLength(128);
            tag.HasIndex(t => new { t.Type, t.Name }).IsUnique();
        });

        model.Entity<Dataset>(dataset =>
        {
            dataset.ToTable("datasets");
            dataset.HasIndex(d => d.Slug).IsUnique();
            dataset.Property(d => d.Name).HasMaxLength(256);
            dataset.Property(d => d.Slug).HasMaxLength(256);
            dataset.Property(d => d.ShortDescription).HasMaxLength(512);
            dataset.Property(d => d.Publisher).HasMaxLength(256);
            dataset.Property(d => d.Type).HasConversion<string>().HasMaxLength(32);
            dataset.Property(d => d.AccessType).HasConversion<string>().HasMaxLength(32);
            dataset.Property(d => d.Classification).HasConversion<string>().HasMaxLength(32);
            dataset.HasIndex(d => new { d.Published, d.DeletedAt });
            dataset.HasIndex(d => d.Publisher);
            // Name weighs most in ranking, then the summary, then the long description.
            dataset.Property(d => d.SearchVector)
                .HasComputedColumnSql(
                    "setweight(to_tsvector('english', coalesce(name, '')), 'A') || " +
                    "setweight(to_tsvector('english', coalesce(short_description, '')), 'B') || " +
                    "setweight(to_tsvector('english', coalesce(description, '')), 'C')",
                    stored: true);
            dataset.HasIndex(d => d.SearchVector).HasMethod("GIN");
            dataset.HasMany(d => d.Tags).WithMany(t => t.Datasets).UsingEntity("dataset_tags");
            dataset.HasMany(d => d.Tables).WithOne().HasForeignKey(t => t.DatasetId).OnDelete(DeleteBehavior.Cascade);
            dataset.HasMany(d => d.Links).WithOne().HasForeignKey(l => l.DatasetId).OnDelete(DeleteBehavior.Cascade);
            dataset.HasMany(d => d.Queries).WithOne().HasForeignKey(q => q.DatasetId).OnDelete(DeleteBehavior.Cascade);
        });

        model.Entity<SourceTable>(table =>
        {
            table.ToTable("source_tables");
            table.Property(t => t.Schema).HasMaxLength(63);
            table.Property(t => t.Table).HasMaxLength(63);
        });
        model.Entity<SourceLink>().ToTable("source_links");
        model.Entity<CustomQuery>().ToTable("custom_queries");

        model.Entity<DatasetPermission>(permission =>
        {
            permission.ToTable("dataset_permissions");
            permission.Property(p => p.Source).HasConversion<string>().HasMaxLength(32);
            permission.Property(p => p.EndReason).HasConversion<string>().HasMaxLength(16);
            // The expiry job looks for permissions past their end that it has not recorded yet.
            permission.HasIndex(p => p.ExpiresAt).HasFilter("ended_at IS NULL AND expires_at IS NOT NULL");
            permission.HasIndex(p => new { p.UserId, p.DatasetId });
            permission.HasOne<Dataset>().WithMany().HasForeignKey(p => p.DatasetId).OnDelete(DeleteBehavior.Cascade);
        });

        model.Entity<Bookmark>(bookmark =>
        {
            bookmark.ToTable("bookmarks");
            bookmark.HasKey(b => new { b.UserId, b.DatasetId });
            bookmark.HasOne<Dataset>().WithMany().HasForeignKey(b => b.DatasetId).OnDelete(DeleteBehavior.Cascade);
        });
    }
}
