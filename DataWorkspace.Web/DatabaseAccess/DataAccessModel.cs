using DataWorkspace.Web.Data;
using Microsoft.EntityFrameworkCore;

namespace DataWorkspace.Web.DatabaseAccess;

/// <summary>A team: its members share a role and a schema (<c>_team_&lt;slug&gt;</c>) in the datasets database that they may write.</summary>
public sealed class Team
{
    public Guid Id { get; set; } = Guid.NewGuid();

    /// <summary>Lower-case letters, digits and underscores: it names the team's role and schema.</summary>
    public required string Slug { get; set; }
    public required string Name { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public List<TeamMember> Members { get; set; } = [];
}

public sealed class TeamMember
{
    public Guid TeamId { get; set; }
    public required string UserId { get; set; }
    public DateTimeOffset AddedAt { get; set; }
}

/// <summary>What a short-lived database login is for: its lifetime and who may use it follow from it.</summary>
public enum LoginPurpose
{
    /// <summary>The Data Explorer and downloads in the portal (24 hours).</summary>
    Portal,

    /// <summary>A tool instance (the tool's lifetime, at most 31 days).</summary>
    Tool,
}

/// <summary>
/// A short-lived login role in the datasets database: a member of its user's permanent role, with a random password
/// (kept encrypted, so any replica of the portal can use it) and a VALID UNTIL. Dropped by the login sweep once expired.
/// </summary>
public sealed class DatabaseLogin
{
    public Guid Id { get; set; } = Guid.NewGuid();
    public required string UserId { get; set; }
    public required string RoleName { get; set; }
    public LoginPurpose Purpose { get; set; }
    public required string ProtectedPassword { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset ExpiresAt { get; set; }
    public DateTimeOffset? DroppedAt { get; set; }
}

[CatalogueTables]
public static class DataAccessModel
{
    public static void Configure(ModelBuilder model)
    {
        model.Entity<Team>(team =>
        {
            team.ToTable("teams");
            team.Property(t => t.Slug).HasMaxLength(DatabaseRoleNames.MaxSlugLength);
            team.Property(t => t.Name).HasMaxLength(200);
            team.HasIndex(t => t.Slug).IsUnique();
            team.HasMany(t => t.Members).WithOne().HasForeignKey(m => m.TeamId).OnDelete(DeleteBehavior.Cascade);
        });

        model.Entity<TeamMember>(member =>
        {
            member.ToTable("team_members");
            member.HasKey(m => new { m.TeamId, m.UserId });
            member.Property(m => m.UserId).HasMaxLength(255);
            member.HasIndex(m => m.UserId);
        });

        model.Entity<DatabaseLogin>(login =>
        {
            login.ToTable("database_logins");
            login.Property(l => l.UserId).HasMaxLength(255);
            login.Property(l => l.RoleName).HasMaxLength(63);
            login.Property(l => l.Purpose).HasConversion<string>().HasMaxLength(16);
            login.HasIndex(l => l.RoleName).IsUnique();
            login.HasIndex(l => new { l.UserId, l.Purpose, l.ExpiresAt });
            login.HasIndex(l => l.ExpiresAt).HasFilter("dropped_at IS NULL");
        });
    }
}
