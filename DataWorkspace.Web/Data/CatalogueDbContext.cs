using DataWorkspace.DataProtection;
using Microsoft.EntityFrameworkCore;

namespace DataWorkspace.Web.Data;

/// <summary>The catalogue database: the users every feature keys on, and each feature's own tables (<see cref="CatalogueTablesAttribute"/>).</summary>
public sealed class CatalogueDbContext(DbContextOptions<CatalogueDbContext> options) : DbContext(options)
{
    public DbSet<User> Users => Set<User>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        foreach (var configure in CatalogueTablesAttribute.InAssembly(typeof(CatalogueDbContext).Assembly)) configure(modelBuilder);

        modelBuilder.Entity<User>(user =>
        {
            user.ToTable("users");
            user.HasKey(u => u.Id);
            user.Property(u => u.Id).HasColumnName("id").HasMaxLength(255);
            user.Property(u => u.Email).HasColumnName("email").HasMaxLength(320);
            user.Property(u => u.Name).HasColumnName("name").HasMaxLength(255);
            user.Property(u => u.FirstSeenAt).HasColumnName("first_seen_at");
            user.Property(u => u.LastSeenAt).HasColumnName("last_seen_at");
            user.Property(u => u.DeactivatedAt).HasColumnName("deactivated_at");
            user.Property(u => u.DeactivatedBy).HasColumnName("deactivated_by").HasMaxLength(320);
            user.HasIndex(u => u.Email).HasDatabaseName("ix_users_email");
        });

        modelBuilder.Entity<DataProtectionKey>(key =>
        {
            key.ToTable(CatalogueKeyRepository.Table);
            key.HasKey(k => k.Id);
            key.Property(k => k.Id).HasColumnName("id").UseIdentityAlwaysColumn();
            key.Property(k => k.FriendlyName).HasColumnName("friendly_name").HasMaxLength(255);
            key.Property(k => k.Xml).HasColumnName("xml");
            key.HasIndex(k => k.FriendlyName).IsUnique().HasDatabaseName("ux_data_protection_keys_friendly_name");
        });
    }
}

public sealed class User
{
    /// <summary>The identity provider's <c>sub</c> claim.</summary>
    public required string Id { get; set; }
    public required string Email { get; set; }
    public required string Name { get; set; }
    public DateTimeOffset FirstSeenAt { get; set; }
    public DateTimeOffset LastSeenAt { get; set; }

    /// <summary>When an administrator deactivated the user (null while active): no session, sign-in, tool or database login.</summary>
    public DateTimeOffset? DeactivatedAt { get; set; }

    /// <summary>The email of the administrator who deactivated the user.</summary>
    public string? DeactivatedBy { get; set; }
}

/// <summary>A Data Protection key, written and read by <see cref="CatalogueKeyRepository"/>; mapped here only so migrations create its table.</summary>
public sealed class DataProtectionKey
{
    public int Id { get; set; }
    public required string FriendlyName { get; set; }
    public required string Xml { get; set; }
}

public static class CatalogueDbContextOptions
{
    /// <summary>The one place the catalogue's provider and naming are set, for the app, the migration step and the EF tools.</summary>
    public static DbContextOptionsBuilder UseCatalogue(this DbContextOptionsBuilder options, Npgsql.NpgsqlDataSource dataSource) =>
        options.UseNpgsql(dataSource).UseSnakeCaseNamingConvention();

    public static DbContextOptionsBuilder UseCatalogue(this DbContextOptionsBuilder options, string? connectionString) =>
        options.UseNpgsql(connectionString).UseSnakeCaseNamingConvention();
}
