namespace DataWorkspace.TestSupport;

/// <summary>The sidecars executable built beside the tests (a test project that runs it references DataWorkspace.Sidecars so it is built).</summary>
public static class SidecarsBuild
{
    /// <summary>bin/&lt;configuration&gt;/net10.0/dataworkspace-sidecar.dll of the same configuration as the running tests.</summary>
    public static string Dll()
    {
        var configuration = Path.GetFileName(Path.GetDirectoryName(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)))!;
        var dll = Path.Combine(TestDirectories.RepositoryRoot(), "DataWorkspace.Sidecars", "bin", configuration, "net10.0", "dataworkspace-sidecar.dll");
        return File.Exists(dll) ? dll : throw new InvalidOperationException($"{dll} is missing: build DataWorkspace.Sidecars ({configuration}).");
    }
}
