using System.Globalization;
using DataWorkspace.Contracts;
using DataWorkspace.Web.DatabaseAccess;
using Npgsql;

namespace DataWorkspace.Web.Tools;

/// <summary>
/// The environment a tool instance is given: its identity and its own short-lived database login, as PG* variables
/// and a DSN. Nothing else of the platform's configuration.
/// </summary>
public static class ToolEnvironment
{
    /// <summary>A user's tool: the user's identity and the user's login.</summary>
    public static Dictionary<string, string> ForUser(PlatformIdentity user, UserLogin login, string datasetsConnectionString)
    {
        var environment = Database(login, datasetsConnectionString);
        environment["DATAWORKSPACE_USER_ID"] = user.UserId;
        environment["DATAWORKSPACE_USER_EMAIL"] = user.Email;
        environment["DATAWORKSPACE_USER_NAME"] = user.Name;
        environment["DATAWORKSPACE_USER_HASH"] = user.Hash;
        return environment;
    }

    /// <summary>
    /// A visualisation: its own name and its own login (the datasets its developers gave it). Each viewer's identity
    /// comes with each request, in the headers the proxy sets.
    /// </summary>
    public static Dictionary<string, string> ForVisualisation(ToolTemplate template, UserLogin login, string datasetsConnectionString)
    {
        var environment = Database(login, datasetsConnectionString);
        environment["DATAWORKSPACE_APP"] = template.HostBasename;
        environment["DATAWORKSPACE_APP_NAME"] = template.Name;
        return environment;
    }

    private static Dictionary<string, string> Database(UserLogin login, string datasetsConnectionString)
    {
        var server = new NpgsqlConnectionStringBuilder(datasetsConnectionString);
        var port = server.Port.ToString(CultureInfo.InvariantCulture);
        return new()
        {
            ["PGHOST"] = server.Host ?? "localhost",
            ["PGPORT"] = port,
            ["PGDATABASE"] = server.Database ?? "",
            ["PGUSER"] = login.RoleName,
            ["PGPASSWORD"] = login.Password,
            ["DATABASE_DSN__datasets_1"] = $"host={server.Host} port={port} dbname={server.Database} user={login.RoleName} password={login.Password}",
        };
    }
}
