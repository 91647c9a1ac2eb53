using System.Diagnostics;
using Npgsql;
using Xunit;

namespace DataWorkspace.TestSupport;

/// <summary>
/// A throwaway PostgreSQL cluster from the machine's own binaries (initdb + postgres on loopback), with password
/// authentication as in production. One per test assembly; each test makes its own database with <see cref="CreateDatabaseAsync"/>.
/// </summary>
public sealed class PostgresCluster : IAsyncLifetime
{
    public const string Password = "test-superuser-password";
    private readonly string directory = Path.Combine(Path.GetTempPath(), "dw-pg-" + Guid.NewGuid().ToString("N")[..12]);
    private Process? server;

    public int Port { get; private set; }

    public string ConnectionString(string database = "postgres") => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = Port,
        Username = "postgres",
        Password = Password,
        Database = database,
    }.ConnectionString;

    public async ValueTask InitializeAsync()
    {
        var binaries = FindBinaries();
        Directory.CreateDirectory(directory);
        var passwordFile = Path.Combine(directory, "pw");
        await File.WriteAllTextAsync(passwordFile, Password);
        var data = Path.Combine(directory, "data");
        if (IsRoot) await RunAsync("chown", ["-R", "postgres:postgres", directory]);

        await RunAsync(Path.Combine(binaries, "initdb"), ["-D", data, "-U", "postgres", "--auth=scram-sha-256", $"--pwfile={passwordFile}", "--no-sync", "-E", "UTF8", "--locale=C.UTF-8"], asPostgres: true);

        Port = Ports.Free();
        server = Start(Path.Combine(binaries, "postgres"),
            ["-D", data, "-k", directory, "-c", "listen_addresses=127.0.0.1", "-p", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-c", "fsync=off", "-c", "max_connections=200"],
            asPostgres: true);

        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            try
            {
                await using var connection = new NpgsqlConnection(ConnectionString());
                await connection.OpenAsync();
                return;
            }
            catch (NpgsqlException) when (DateTime.UtcNow < deadline && !server.HasExited)
            {
                await Task.Delay(100);
            }
        }
    }

    /// <summary>A new, empty database for one test (so tests never see each other's rows).</summary>
    public async Task<string> CreateDatabaseAsync(string prefix = "test")
    {
        var name = $"{prefix}_{Guid.NewGuid():N}"[..Math.Min(prefix.Length + 13, 63)];
        await using var connection = new NpgsqlConnection(ConnectionString());
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
        await command.ExecuteNonQueryAsync();
        return ConnectionString(name);
    }

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        if (server is { HasExited: false })
        {
            // SIGINT is PostgreSQL's fast shutdown.
            _ = await RunAsync("kill", ["-INT", server.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)], throwOnError: false);
            if (!server.WaitForExit(TimeSpan.FromSeconds(10))) server.Kill(entireProcessTree: true);
        }

        server?.Dispose();
        TestDirectories.Delete(directory);
    }

    private static bool IsRoot => Environment.UserName == "root";

    public static string FindBinaries()
    {
        const string debianRoot = "/usr/lib/postgresql";
        var found = Directory.Exists(debianRoot)
            ? Directory.GetDirectories(debianRoot).Select(d => Path.Combine(d, "bin")).Where(b => File.Exists(Path.Combine(b, "initdb"))).Order().LastOrDefault()
            : null;
        return found ?? throw new InvalidOperationException("PostgreSQL server binaries were not found under /usr/lib/postgresql/*/bin; install the postgresql package.");
    }

    private static ProcessStartInfo StartInfo(string file, IEnumerable<string> arguments, bool asPostgres)
    {
        // PostgreSQL refuses to run as root; setpriv execs, so signals reach postgres itself.
        var info = asPostgres && IsRoot
            ? new ProcessStartInfo("/usr/bin/setpriv", ["--reuid=postgres", "--regid=postgres", "--init-groups", "--", file, .. arguments])
            : new ProcessStartInfo(file, arguments);
        info.RedirectStandardOutput = true;
        info.RedirectStandardError = true;
        return info;
    }

    private static Process Start(string file, IEnumerable<string> arguments, bool asPostgres)
    {
        var process = Process.Start(StartInfo(file, arguments, asPostgres))!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static async Task<int> RunAsync(string file, IEnumerable<string> arguments, bool asPostgres = false, bool throwOnError = true)
    {
        using var process = Process.Start(StartInfo(file, arguments, asPostgres))!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0 && throwOnError)
            throw new InvalidOperationException($"{file} failed ({process.ExitCode}): {await error}{await output}");
        return process.ExitCode;
    }
}
