using System.Globalization;
using Aspire.Hosting.ApplicationModel;

namespace DataWorkspace.TestSupport;

/// <summary>The processes the orchestrator started for a platform's resources, by id: another platform on the machine runs processes of the same names.</summary>
public static class ResourceProcesses
{
    /// <summary>
    /// The process id of a running resource (a project or an executable such as <c>postgres</c>). For a project this is
    /// the app itself, not the <c>dotnet run</c> the orchestrator starts it with.
    /// </summary>
    public static int ProcessId(this RunningPlatform platform, string resource) =>
        platform.RunningProcessId(resource)
        ?? throw new InvalidOperationException($"The orchestrator reports no running process for '{resource}' ({platform.StateOf(resource)}).");

    /// <summary>
    /// The running resource's own process: the one the orchestrator reports, or for a project the app that its
    /// <c>dotnet run</c> started as its one child. Null for a resource that is not running (a migration step that finished,
    /// a resource stopped by a fault).
    /// </summary>
    public static int? RunningProcessId(this RunningPlatform platform, string resource)
    {
        if (platform.StateOf(resource) != KnownResourceStates.Running || platform.ReportedProcessId(resource) is not { } pid) return null;
        // `dotnet run` starts the built app as its one child and waits for it (the child may be listed under any of its threads).
        while (Read($"/proc/{pid}/comm").Trim() == "dotnet" && Read($"/proc/{pid}/cmdline").Split('\0').Contains("run") && Children(pid) is [var child])
            pid = child;
        return Read($"/proc/{pid}/stat").Length > 0 ? pid : null;
    }

    /// <summary>
    /// The process id as the orchestrator reports it (for a project, its <c>dotnet run</c>; for the local PostgreSQL, the
    /// script that runs the server), whatever the resource's state; null when it reports none.
    /// </summary>
    public static int? ReportedProcessId(this RunningPlatform platform, string resource)
    {
        if (!platform.App.ResourceNotifications.TryGetCurrentState(resource, out var current)) return null;
        var reported = current.Snapshot.Properties.FirstOrDefault(property => property.Name == "executable.pid")?.Value;
        return reported is not null && int.TryParse(Convert.ToString(reported, CultureInfo.InvariantCulture), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
            ? pid
            : null;
    }

    /// <summary>The resource's state as the orchestrator reports it ("Running", "Finished", ...), or "(no state)".</summary>
    public static string StateOf(this RunningPlatform platform, string resource) =>
        platform.App.ResourceNotifications.TryGetCurrentState(resource, out var current) ? current.Snapshot.State?.Text ?? "(no state)" : "(no state)";

    /// <summary>Children of every thread of the process (a child is listed under the thread that started it); none once it has ended.</summary>
    public static List<int> Children(int pid)
    {
        var children = new List<int>();
        try
        {
            foreach (var task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
                foreach (var child in Read(Path.Combine(task, "children")).Split(' ', StringSplitOptions.RemoveEmptyEntries))
                    children.Add(int.Parse(child, CultureInfo.InvariantCulture));
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            // The process ended meanwhile.
        }

        return children;
    }

    private static string Read(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }
}
