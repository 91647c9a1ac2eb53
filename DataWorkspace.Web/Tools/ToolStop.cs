using DataWorkspace.Contracts;

namespace DataWorkspace.Web.Tools;

/// <summary>Why an instance is stopped: the cause for code, and the reason in the words users and admins read.</summary>
public sealed record ToolStop(ToolStopCause Cause, string Reason)
{
    public static readonly ToolStop ByUser = new(ToolStopCause.User, "stopped by its user");

    public static readonly ToolStop OwnerDeactivated = new(ToolStopCause.AccountDeactivated, "its user's account is deactivated");

    public static readonly ToolStop PlatformRestarted = new(ToolStopCause.PlatformRestarted, "the platform restarted, and local tools stop with it");

    public static ToolStop ByAdministrator(string email) => new(ToolStopCause.Administrator, $"an administrator ({email}) stopped it");

    public static ToolStop AccountDeactivated(string userEmail, string byEmail) =>
        new(ToolStopCause.AccountDeactivated, $"{userEmail}'s account was deactivated by {byEmail}");

    public static ToolStop ReachedMaxLifetime(TimeSpan maxLifetime) =>
        new(ToolStopCause.MaxLifetime, $"it reached the maximum lifetime of {Describe(maxLifetime)}");

    public static ToolStop Idle(TimeSpan idleTimeout, DateTimeOffset lastActivityAt) =>
        new(ToolStopCause.Idle, $"it was idle for {Describe(idleTimeout)} (no traffic since {lastActivityAt.UtcDateTime:yyyy-MM-dd HH:mm:ss} UTC)");

    public static ToolStop FailedToStart(string message) => new(ToolStopCause.SpawnFailed, "it failed to start: " + message);

    public static ToolStop StoppedAnswering(string? detail) =>
        new(ToolStopCause.StoppedAnswering, "it stopped answering" + (detail is { Length: > 0 } ? $" ({detail})" : ""));

    /// <summary>"2 hours", "90 minutes", "3 seconds": a duration in the words of a stop reason.</summary>
    internal static string Describe(TimeSpan span) => span switch
    {
        { TotalDays: >= 1 } when span.TotalDays % 1 == 0 => Plural(span.TotalDays, "day"),
        { TotalHours: >= 1 } when span.TotalHours % 1 == 0 => Plural(span.TotalHours, "hour"),
        { TotalMinutes: >= 1 } when span.TotalMinutes % 1 == 0 => Plural(span.TotalMinutes, "minute"),
        _ => Plural(Math.Round(span.TotalSeconds), "second"),
    };

    private static string Plural(double count, string unit) => $"{count:0} {unit}{(count == 1 ? "" : "s")}";
}
