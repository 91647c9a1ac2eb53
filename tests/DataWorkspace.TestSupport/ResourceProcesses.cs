using System.Globalization;

namespace DataWorkspace.TestSupport;

/// <summary>The processes the orchestrator started for a platform's resources, by id: another platform on the machine runs processes of the same names.</summary>
public static class ResourceProcesses
{
    /// <summary>The process id of a running resource (a project or an executable such as <c>postgres</c>), as the orchestrator reports it.</summary>
    public static int ProcessId(this RunningPlatform platform, string resource)
    {
        if (!platform.App.ResourceNotifications.TryGetCurrentState(resource, out var current))
            throw new InvalidOperationException($"The platform has no resource '{resource}'.");
        var pid = current.Snapshot.Properties.FirstOrDefault(property => property.Name == "executable.pid")?.Value
            ?? throw new InvalidOperationException($"The orchestrator reports no process id for '{resource}' (state {current.Snapshot.State?.Text}).");
        return Convert.ToInt32(pid, CultureInfo.InvariantCulture);
    }
}
