using Microsoft.Extensions.Configuration;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;

namespace DataWorkspace.AppHost.Infrastructure;

/// <summary>
/// Where a local run keeps what must survive restarts: the Postgres cluster and the secrets generated for it.
/// Defaults to the user's data directory; as root, /var/lib/dataworkspace, since the postgres user cannot enter /root.
/// </summary>
public sealed class LocalState
{
    public const string Setting = "DataDirectory";

    private LocalState(string root) => Root = root;

    public string Root { get; }

    public string PostgresData => Path.Combine(Root, "postgres");

    public static LocalState From(IConfiguration configuration)
    {
        var root = configuration[Setting];
        if (string.IsNullOrWhiteSpace(root))
        {
            root = Environment.UserName == "root"
                ? "/var/lib/dataworkspace"
                : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.Create), "DataWorkspace");
        }

        Directory.CreateDirectory(root);
        // The postgres user must be able to reach the cluster folder below this one.
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(root, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
        return new LocalState(Path.GetFullPath(root));
    }

    /// <summary>A random secret made on first use and read back on every later run (readable by its owner only).</summary>
    public string Secret(string name, int bytes = 32)
    {
        var folder = Path.Combine(Root, "secrets");
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, name);
        if (File.Exists(path)) return File.ReadAllText(path).Trim();

        var value = Convert.ToBase64String(RandomNumberGenerator.GetBytes(bytes));
        File.WriteAllText(path, value);
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return value;
    }

    /// <summary>A port that is free now, for services that must be told their port on the command line.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
