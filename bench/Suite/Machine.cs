using System.Diagnostics;
using System.Runtime.InteropServices;

namespace DataWorkspace.Bench.Suite;

/// <summary>What the report says about the machine the figures come from.</summary>
internal static class Machine
{
    public static string LoadAverage() => Read("/proc/loadavg") is { } text ? string.Join(' ', text.Split(' ').Take(3)) : "unknown";

    public static IEnumerable<(string Name, string Value)> Describe(string root)
    {
        yield return ("Cores", Environment.ProcessorCount.ToString(System.Globalization.CultureInfo.InvariantCulture)
            + (Line("/proc/cpuinfo", "model name") is { } model ? $" ({model})" : ""));
        if (Line("/proc/meminfo", "MemTotal") is { } memory && long.TryParse(memory.Split(' ')[0], out var kilobytes))
            yield return ("Memory", $"{kilobytes / 1024.0 / 1024:0.0} GiB");
        yield return ("Kernel", Read("/proc/sys/kernel/osrelease")?.Trim() ?? RuntimeInformation.OSDescription);
        if (Read("/etc/os-release") is { } release
            && release.Split('\n').FirstOrDefault(line => line.StartsWith("PRETTY_NAME=", StringComparison.Ordinal)) is { } pretty)
            yield return ("System", pretty["PRETTY_NAME=".Length..].Trim('"'));
        yield return (".NET", $"{RuntimeInformation.FrameworkDescription}, SDK {Output(root, "dotnet", "--version") ?? "unknown"}");
        yield return ("Commit", Output(root, "git", "log", "-1", "--format=%h %s") ?? "unknown");
    }

    private static string? Read(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static string? Line(string path, string key) =>
        Read(path)?.Split('\n').FirstOrDefault(line => line.StartsWith(key, StringComparison.Ordinal))?.Split(':', 2)[1].Trim();

    private static string? Output(string directory, string file, params string[] arguments)
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = directory });
            if (process is null) return null;
            var text = process.StandardOutput.ReadToEnd().Trim();
            process.WaitForExit();
            return process.ExitCode == 0 && text.Length > 0 ? text : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }
}
