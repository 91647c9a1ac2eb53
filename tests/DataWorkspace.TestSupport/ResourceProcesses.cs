using System.Globalization;

namespace DataWorkspace.TestSupport;

/// <summary>The processes the orchestrator started for a platform's resources, by id: another platform on the machine runs processes of the same names.</summary>
public static class ResourceProcesses
{
    /// <summary>
    /// The process id of a running resource (a project or an executable such as <c>postgres</c>). For a project this is
    /// the app itself, not the <c>dotnet run</c> the orchestrator starts it with.
    /// </summary>
    public static int ProcessId(this RunningPlatform platform, string resource)
    {
        if (!platform.App.ResourceNotifications.TryGetCurrentState(resource, out var current))
            throw new InvalidOperationException($"The platform has no resource '{resource}'.");
        var reported = current.Snapshot.Properties.FirstOrDefault(property => property.Name == "executable.pid")?.Value
            ?? throw new InvalidOperationException($"The orchestrator reports no process id for '{resource}' (state {current.Snapshot.State?.Text}).");
        var pid = Convert.ToInt32(reported, CultureInfo.InvariantCulture);
        // `dotnet run` starts the built app as its one child and waits for it.
        while (Read($"/proc/{pid}/comm").Trim() == "dotnet" && Read($"/proc/{pid}/task/{pid}/children").Split(' ', StringSplitOptions.RemoveEmptyEntries) is [var child])
            pid = int.Parse(child, CultureInfo.InvariantCulture);
        return pid;
    }

    private static string Read(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (IOException)
        {
            return "";
        }
    }
}
