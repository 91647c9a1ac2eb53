namespace DataWorkspace.Web.ToolsAccess;

public enum ToolsPermissionSource
{
    /// <summary>The user declared they completed data protection training on <see cref="ToolsPermission.TrainingCompletedOn"/>.</summary>
    SelfCertified,

    /// <summary>An admin granted it.</summary>
    Admin,
}

/// <summary>A user's permission to launch tools. Self-certified permission lasts a year from the training date.</summary>
public sealed class ToolsPermission
{
    public required string UserId { get; set; }
    public ToolsPermissionSource Source { get; set; }
    public DateOnly? TrainingCompletedOn { get; set; }
    public DateTimeOffset GrantedAt { get; set; }
    public required string GrantedBy { get; set; }

    /// <summary>When the permission lapses; null for an admin grant without an end.</summary>
    public DateTimeOffset? ExpiresAt { get; set; }

    public static readonly TimeSpan TrainingValidFor = TimeSpan.FromDays(365);
}

public static class ToolsPermissions
{
    /// <summary>The tools permissions in force at <paramref name="now"/>.</summary>
    public static IQueryable<ToolsPermission> ActiveAt(this IQueryable<ToolsPermission> permissions, DateTimeOffset now) =>
        permissions.Where(p => p.ExpiresAt == null || p.ExpiresAt > now);
}
