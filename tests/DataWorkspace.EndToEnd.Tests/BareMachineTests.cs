using System.Diagnostics;

namespace DataWorkspace.EndToEnd.Tests;

/// <summary>
/// A machine that has the .NET SDK but not what a local run starts (PostgreSQL's server binaries, moto_server): the
/// README's first command says what it will install and how, and an F5 run of the AppHost stops with what is missing
/// instead of a stack trace. Both are run with PATH, HOME and the probed PostgreSQL folders pointed where nothing is.
/// </summary>
public sealed class BareMachineTests
{
    private static readonly string Repository = FindRepository();
    private static readonly string Dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "/usr/bin/dotnet";
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task The_first_command_names_what_is_missing_and_the_one_command_that_installs_it()
    {
        var (exitCode, output) = await RunAsync(Path.Combine(Repository, "dw"), ["run"], ("DW_NO_INSTALL", "1"));

        Assert.Equal(1, exitCode);
        Assert.Contains("PostgreSQL server binaries", output);
        Assert.Contains("apt-get install -y --no-install-recommends postgresql", output);
        Assert.DoesNotContain("Exception", output);
    }

    [Fact]
    public async Task The_first_command_checks_what_is_there_and_says_what_is_not()
    {
        var (exitCode, output) = await RunAsync(Path.Combine(Repository, "dw"), ["check"]);

        Assert.Equal(1, exitCode);
        Assert.Contains("PostgreSQL server binaries: MISSING (apt-get install postgresql)", output);
        Assert.Contains("moto_server: MISSING (pipx install 'moto[server]')", output);
        Assert.Contains("the .NET SDK", output);
    }

    [Fact]
    public async Task An_F5_run_without_them_stops_with_what_to_do_not_a_stack_trace()
    {
        var appHost = Path.Combine(Repository, "DataWorkspace.AppHost", "bin",
            Path.GetFileName(Path.GetDirectoryName(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)))!, "net10.0", "DataWorkspace.AppHost.dll");
        var (exitCode, output) = await RunAsync(Dotnet, [appHost, "--Infrastructure=Local"]);

        Assert.Equal(1, exitCode);
        Assert.Contains("Data Workspace cannot start here yet", output);
        Assert.Contains("PostgreSQL's server binaries (apt-get install postgresql)", output);
        Assert.Contains("moto_server", output);
        Assert.Contains("./dw run", output);
        Assert.DoesNotContain("Unhandled exception", output);
        Assert.DoesNotContain("   at ", output);
    }

    /// <summary>Runs a program as on a machine without PostgreSQL's server binaries or moto_server; its exit code and all it wrote.</summary>
    private static async Task<(int ExitCode, string Output)> RunAsync(string program, string[] arguments, params (string Name, string Value)[] environment)
    {
        var home = Directory.CreateTempSubdirectory("dw-bare-home-");
        try
        {
            var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Repository };
            foreach (var argument in arguments) start.ArgumentList.Add(argument);
            start.Environment.Clear();
            start.Environment["PATH"] = $"{Path.GetDirectoryName(Dotnet)}:/usr/bin:/bin";
            start.Environment["HOME"] = home.FullName;
            start.Environment["DW_POSTGRES_ROOTS"] = Path.Combine(home.FullName, "no-postgresql");
            start.Environment["DOTNET_CLI_HOME"] = home.FullName;
            start.Environment["DOTNET_NOLOGO"] = "1";
            foreach (var (name, value) in environment) start.Environment[name] = value;
            using var process = Process.Start(start)!;
            var output = process.StandardOutput.ReadToEndAsync(Cancel);
            var errors = process.StandardError.ReadToEndAsync(Cancel);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Cancel);
            timeout.CancelAfter(TimeSpan.FromMinutes(2));
            await process.WaitForExitAsync(timeout.Token);
            return (process.ExitCode, await output + await errors);
        }
        finally
        {
            home.Delete(recursive: true);
        }
    }

    private static string FindRepository()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
            if (File.Exists(Path.Combine(directory.FullName, "DataWorkspace.sln"))) return directory.FullName;
        throw new InvalidOperationException("The repository was not found above " + AppContext.BaseDirectory);
    }
}
