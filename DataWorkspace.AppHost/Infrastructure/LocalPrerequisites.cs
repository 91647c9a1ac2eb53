namespace DataWorkspace.AppHost.Infrastructure;

/// <summary>
/// The programs a local run starts itself: PostgreSQL's server binaries and moto_server. Looked for in the same places
/// as <c>./dw</c> looks (which installs them), so an F5 run on a machine without them stops with what to do.
/// </summary>
public static class LocalPrerequisites
{
    /// <summary>Where Debian and Ubuntu put each PostgreSQL version's binaries; DW_POSTGRES_ROOTS replaces it (tests).</summary>
    private static IEnumerable<string> PostgresRoots =>
        (Environment.GetEnvironmentVariable("DW_POSTGRES_ROOTS") ?? "/usr/lib/postgresql").Split(' ', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>The newest PostgreSQL version's bin directory that has initdb and postgres, or null.</summary>
    public static string? PostgresBinaries()
    {
        foreach (var root in PostgresRoots.Where(Directory.Exists))
        {
            var newest = Directory.GetDirectories(root)
                .Select(directory => Path.Combine(directory, "bin"))
                .Where(IsPostgresBin)
                .OrderByDescending(bin => int.TryParse(Path.GetFileName(Path.GetDirectoryName(bin)), out var version) ? version : 0)
                .FirstOrDefault();
            if (newest is not null) return newest;
        }

        return SearchPath().FirstOrDefault(IsPostgresBin);
    }

    /// <summary>moto_server on PATH, or where pipx and pyenv install programs, or null.</summary>
    public static string? MotoServer()
    {
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return SearchPath()
            .Concat([Path.Combine(home, ".local", "bin"), Path.Combine(home, ".pyenv", "shims"), "/usr/local/bin"])
            .Select(directory => Path.Combine(directory, "moto_server"))
            .FirstOrDefault(File.Exists);
    }

    /// <summary>What is missing for a run with local infrastructure, as one message saying what to run; null when nothing is.</summary>
    public static string? Missing()
    {
        var missing = new List<string>();
        if (PostgresBinaries() is null) missing.Add("PostgreSQL's server binaries (apt-get install postgresql)");
        if (MotoServer() is null) missing.Add("moto_server, which stands in for AWS (pipx install 'moto[server]')");
        return missing.Count == 0
            ? null
            : $"Data Workspace cannot start here yet: {string.Join(" and ", missing)} could not be found. Run ./dw run, which " +
              "installs what is missing (or says the one command to run), or install them as shown; with Docker running, " +
              "--Infrastructure=Containers uses containers instead.";
    }

    private static bool IsPostgresBin(string bin) => File.Exists(Path.Combine(bin, "postgres")) && File.Exists(Path.Combine(bin, "initdb"));

    private static IEnumerable<string> SearchPath() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries);
}
