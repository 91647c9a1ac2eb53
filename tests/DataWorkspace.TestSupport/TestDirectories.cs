namespace DataWorkspace.TestSupport;

public static class TestDirectories
{
    public static void Delete(string directory)
    {
        try { Directory.Delete(directory, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>The repository's root (where DataWorkspace.sln is), for artifacts and for running the AppHost.</summary>
    public static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
            if (File.Exists(Path.Combine(directory.FullName, "DataWorkspace.sln"))) return directory.FullName;
        throw new InvalidOperationException("DataWorkspace.sln was not found above " + AppContext.BaseDirectory);
    }
}
