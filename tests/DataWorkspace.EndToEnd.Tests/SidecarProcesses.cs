namespace DataWorkspace.EndToEnd.Tests;

/// <summary>The local tools' sidecar processes, as this machine's process table shows them.</summary>
internal static class SidecarProcesses
{
    /// <summary>Whether a sidecar process still works on the tool home <paramref name="folder"/> (s3sync names it).</summary>
    public static bool RunFor(string folder) =>
        Directory.GetDirectories("/proc").Where(directory => int.TryParse(Path.GetFileName(directory), out _)).Any(directory =>
        {
            try
            {
                var commandLine = File.ReadAllText(Path.Combine(directory, "cmdline"));
                return commandLine.Contains("dataworkspace-sidecar", StringComparison.Ordinal) && commandLine.Contains(folder, StringComparison.Ordinal);
            }
            catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
            {
                return false;
            }
        });
}
