using System.Globalization;
using Aspire.Hosting.ApplicationModel;
using DataWorkspace.TestSupport;
using Microsoft.Extensions.DependencyInjection;

namespace DataWorkspace.Bench.Load;

/// <summary>
/// The memory of each process the platform runs, found through the platform itself, never by name: each resource's
/// process id as the orchestrator reports it (for a project, the app under its <c>dotnet run</c>), and the tools' as
/// the web app records them (tool_instances.launcher_handle). A resource of one process is measured by its RSS; one of
/// several (PostgreSQL's server and backends, the tools, their sidecars) by the sum of their PSS, which counts pages
/// they share (PostgreSQL's shared buffers) once.
/// </summary>
public sealed class PlatformMemory(RunningPlatform platform, string catalogueConnectionString)
{
    /// <summary>Resources whose children are not theirs to count: the web app's are the tools and their sidecars, counted apart.</summary>
    private static readonly HashSet<string> AloneResources = ["web"];

    public const string Tools = "tools";
    public const string ToolSidecars = "tool sidecars";

    /// <summary>Megabytes per process group (resource name, "tools", "tool sidecars"), with how many processes each has.</summary>
    public async Task<Dictionary<string, (double Megabytes, int Processes)>> SampleAsync(CancellationToken cancellationToken)
    {
        var result = new Dictionary<string, (double, int)>(StringComparer.Ordinal);
        var model = platform.App.Services.GetRequiredService<DistributedApplicationModel>();
        int? web = null;
        foreach (var resource in model.Resources)
        {
            if (platform.RunningProcessId(resource.Name) is not { } pid) continue;
            if (AloneResources.Contains(resource.Name))
            {
                web = pid;
                result[resource.Name] = (RssMegabytes(pid), 1);
                continue;
            }

            var tree = Tree(pid);
            result[resource.Name] = (tree.Count == 1 ? RssMegabytes(pid) : tree.Sum(PssMegabytes), tree.Count);
        }

        if (web is { } webPid)
        {
            var tools = new HashSet<int>();
            foreach (var handle in await ToolProcessIdsAsync(cancellationToken))
                tools.UnionWith(Tree(handle));
            var sidecars = Tree(webPid).Where(pid => pid != webPid && !tools.Contains(pid)).ToList();
            result[Tools] = (tools.Sum(PssMegabytes), tools.Count);
            result[ToolSidecars] = (sidecars.Sum(PssMegabytes), sidecars.Count);
        }

        return result;
    }

    private List<int> lastToolProcessIds = [];

    /// <summary>The running tools' processes; while the database is down (a fault), those last read.</summary>
    private async Task<List<int>> ToolProcessIdsAsync(CancellationToken cancellationToken)
    {
        try
        {
            return lastToolProcessIds = await ReadToolProcessIdsAsync(cancellationToken);
        }
        catch (Exception exception) when (exception is Npgsql.NpgsqlException or InvalidOperationException or TimeoutException)
        {
            return lastToolProcessIds;
        }
    }

    private async Task<List<int>> ReadToolProcessIdsAsync(CancellationToken cancellationToken)
    {
        await using var connection = new Npgsql.NpgsqlConnection(catalogueConnectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new Npgsql.NpgsqlCommand("SELECT launcher_handle FROM tool_instances WHERE state = 'Running' AND launcher_handle IS NOT NULL", connection);
        var pids = new List<int>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            if (int.TryParse(reader.GetString(0), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)) pids.Add(pid);
        return pids;
    }

    /// <summary>The process and all its descendants that are alive now.</summary>
    public static List<int> Tree(int pid)
    {
        var found = new List<int>();
        var pending = new Stack<int>([pid]);
        while (pending.TryPop(out var next))
        {
            if (Read($"/proc/{next}/stat").Length == 0) continue;
            found.Add(next);
            foreach (var child in ResourceProcesses.Children(next)) pending.Push(child);
        }

        return found;
    }

    public static double RssMegabytes(int pid) => Field(Read($"/proc/{pid}/status"), "VmRSS:");

    private static double PssMegabytes(int pid) => Field(Read($"/proc/{pid}/smaps_rollup"), "Pss:");

    /// <summary>A "Name:   1234 kB" line's value, in MB (0 when the process is gone).</summary>
    private static double Field(string text, string name)
    {
        var start = text.IndexOf("\n" + name, StringComparison.Ordinal);
        if (start < 0 && text.StartsWith(name, StringComparison.Ordinal)) start = -1;
        else if (start < 0) return 0;
        var line = text[(start + 1 + name.Length)..];
        var end = line.IndexOf('\n');
        var value = (end < 0 ? line : line[..end]).Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries)[0];
        return double.Parse(value, CultureInfo.InvariantCulture) / 1024;
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
