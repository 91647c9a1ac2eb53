using System.Globalization;
using System.Text.RegularExpressions;
using Npgsql;
using static DataWorkspace.Web.DatabaseAccess.DatabaseRoleNames;

namespace DataWorkspace.Web.DatabaseAccess;

/// <summary>
/// What every session of a login starts with: its user's role and schema, the time limits, work memory, and how many
/// connections the login may hold. Set when a login is made, and brought in line at every synchronisation for every
/// live login, so a changed option reaches logins made before it. (Users' and teams' permanent roles cannot log in,
/// and PostgreSQL applies a role's settings only to sessions that log in as it, so settings belong on logins alone.)
/// </summary>
public static partial class LoginSettings
{
    /// <summary>One setting: the literal given to <c>ALTER ROLE ... SET</c>, and the text PostgreSQL keeps for it.</summary>
    private sealed record Setting(string Name, string Literal, string Stored);

    private static IEnumerable<Setting> For(string userRole, DataAccessOptions options)
    {
        yield return new("role", Quote(userRole), userRole);
        yield return new("search_path", $"{Quote(userRole)}, public", $"{StoredIdentifier(userRole)}, public");
        var statement = Milliseconds(options.StatementTimeout);
        yield return new("statement_timeout", statement, statement);
        var idle = Milliseconds(options.IdleInTransactionTimeout);
        yield return new("idle_in_transaction_session_timeout", idle, idle);
        if (options.WorkMemory is { Length: > 0 } workMemory) yield return new("work_mem", $"'{workMemory}'", workMemory);
    }

    /// <summary>The statements that give a new login its settings.</summary>
    public static IEnumerable<string> ForNewLogin(string login, string userRole, DataAccessOptions options) =>
        For(userRole, options).Select(setting => $"ALTER ROLE {Quote(login)} SET {setting.Name} TO {setting.Literal}");

    /// <summary>
    /// The statements that bring every live login's settings and connection limit in line with <paramref name="options"/>:
    /// none for a login that already has them, so a synchronisation with nothing to change changes nothing.
    /// </summary>
    public static async Task<List<string>> DifferencesAsync(NpgsqlConnection connection, DataAccessOptions options, CancellationToken cancellationToken)
    {
        var statements = new List<string>();
        await using var command = new NpgsqlCommand("""
            SELECT l.rolname, l.rolconnlimit, s.setconfig,
                   (SELECT u.rolname FROM pg_auth_members m JOIN pg_roles u ON u.oid = m.roleid
                    WHERE m.member = l.oid AND u.rolname LIKE '\_user\_%' ORDER BY u.rolname LIMIT 1)
            FROM pg_roles l LEFT JOIN pg_db_role_setting s ON s.setrole = l.oid AND s.setdatabase = 0
            WHERE l.rolname LIKE '\_login\_%' AND l.rolcanlogin AND (l.rolvaliduntil IS NULL OR l.rolvaliduntil > now())
            ORDER BY l.rolname
            """, connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            // A login outside any user's role is half made or half dropped: the login sweep's business.
            if (reader.IsDBNull(3)) continue;
            var login = reader.GetString(0);
            var current = new Dictionary<string, string>(StringComparer.Ordinal);
            if (!reader.IsDBNull(2))
                foreach (var entry in reader.GetFieldValue<string[]>(2))
                    if (entry.IndexOf('=') is var equals and > 0) current[entry[..equals]] = entry[(equals + 1)..];

            var desired = For(reader.GetString(3), options).ToList();
            foreach (var setting in desired.Where(setting => current.GetValueOrDefault(setting.Name) != setting.Stored))
                statements.Add($"ALTER ROLE {Quote(login)} SET {setting.Name} TO {setting.Literal}");
            foreach (var name in current.Keys.Where(name => desired.All(setting => setting.Name != name)).Order(StringComparer.Ordinal))
                statements.Add($"ALTER ROLE {Quote(login)} RESET {name}");
            if (reader.GetInt32(1) != options.ConnectionLimit)
                statements.Add($"ALTER ROLE {Quote(login)} CONNECTION LIMIT {options.ConnectionLimit.ToString(CultureInfo.InvariantCulture)}");
        }

        return statements;
    }

    private static string Milliseconds(TimeSpan span) => ((long)span.TotalMilliseconds).ToString(CultureInfo.InvariantCulture);

    /// <summary>An identifier in a list setting as PostgreSQL keeps it: quoted only when it must be.</summary>
    private static string StoredIdentifier(string identifier) => PlainIdentifier().IsMatch(identifier) ? identifier : Quote(identifier);

    [GeneratedRegex("^[a-z_][a-z0-9_$]*$")]
    private static partial Regex PlainIdentifier();
}
