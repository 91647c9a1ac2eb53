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

        modelBuilder.Entity<ProxySession>(session =>
        {
            session.ToTable("proxy_sessions");
            session.HasKey(s => s.Id);
            session.Property(s => s.Id).HasColumnName("id").HasMaxLength(64);
            session.Property(s => s.UserId).HasColumnName("user_id").HasMaxLength(255);
            session.Property(s => s.Ticket).HasColumnName("ticket");
            session.Property(s => s.CreatedAt).HasColumnName("created_at");
            session.Property(s => s.ExpiresAt).HasColumnName("expires_at");
            session.Property(s => s.CheckedAt).HasColumnName("checked_at").HasDefaultValueSql("now()");
            session.HasIndex(s => s.ExpiresAt).HasDatabaseName("ix_proxy_sessions_expires_at");
            session.HasIndex(s => s.CheckedAt).HasDatabaseName("ix_proxy_sessions_checked_at");
            session.HasIndex(s => s.UserId).HasDatabaseName("ix_proxy_sessions_user_id");
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

/// <summary>
/// A signed-in session, written and read by the proxy's SessionStore (the browser's cookie holds only its id); mapped
/// here only so migrations create its table.
/// </summary>
public sealed class ProxySession
{
    public required string Id { get; set; }
    public required string UserId { get; set; }
    public required byte[] Ticket { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset ExpiresAt { get; set; }

    /// <summary>When the identity provider last confirmed the session's user (or they signed in): it is asked again once this is older than the proxy's check interval.</summary>
    public DateTimeOffset CheckedAt { get; set; }
}

public static class CatalogueDbContextOptions
{
    /// <summary>The one place the catalogue's provider and naming are set, for the app, the migration step and the EF tools.</summary>
    public static DbContextOptionsBuilder UseCatalogue(this DbContextOptionsBuilder options, Npgsql.NpgsqlDataSource dataSource) =>
        options.UseNpgsql(dataSource).UseSnakeCaseNamingConvention();

    public static DbContextOptionsBuilder UseCatalogue(this DbContextOptionsBuilder options, string? connectionString) =>
        options.UseNpgsql(connectionString).UseSnakeCaseNamingConvention();
}
