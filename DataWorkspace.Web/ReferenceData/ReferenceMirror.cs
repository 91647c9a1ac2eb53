using DataWorkspace.Web.Catalogue;
using DataWorkspace.Web.DatabaseAccess;
using DataWorkspace.Web.Text;
using Npgsql;
using static DataWorkspace.Web.Catalogue.DatasetsDatabase;

namespace DataWorkspace.Web.ReferenceData;

/// <summary>The mirror could not be changed; nothing was, and the message says why in words for the administrator.</summary>
public sealed class ReferenceMirrorException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Writes a reference table's rows to <c>reference.&lt;table&gt;</c> in the datasets database so that its readers keep
/// their access, and are not held up, at every moment. The table is the same object before and after an edit: its rows
/// are replaced in place in one transaction (readers see the old rows or the new ones, and the grants stay). Only a
/// table whose columns or constraints are not what the definition says is rebuilt: a new table is filled, given the old
/// one's grants, and swapped in under a lock that readers wait for at most <see cref="DatasetsDatabase.ReadersWaitAtMost"/> at a time.
/// </summary>
public sealed class ReferenceMirror(
    [FromKeyedServices(DatasetsDatabase.ConnectionName)] NpgsqlDataSource datasets,
    RoleSyncSignal roleSync,
    ILogger<ReferenceMirror> logger)
{
    private const int SwapAttempts = 5;

    public async Task WriteAsync(ReferenceTable table, CancellationToken cancellationToken)
    {
        var name = $"{Quote(ReferenceTable.Schema)}.{Quote(table.TableName)}";
        await using var connection = await datasets.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await ExecuteAsync(connection, $"CREATE SCHEMA IF NOT EXISTS {Quote(ReferenceTable.Schema)}", cancellationToken);
        var current = await ShapeAsync(connection, table.TableName, cancellationToken);
        try
        {
            if (current is null)
            {
                await ExecuteAsync(connection, $"CREATE TABLE {name} ({ColumnDefinitions(table)})", cancellationToken);
                await CopyRowsAsync(connection, name, table, cancellationToken);
                await transaction.CommitAsync(cancellationToken);
                // A new table has no readers yet: the synchronisation grants it to its dataset's readers.
                roleSync.Request();
                return;
            }

            if (current.Matches(table))
            {
                // SHARE ROW EXCLUSIVE: editors take turns, readers (ACCESS SHARE) are never blocked.
                await ExecuteAsync(connection, $"LOCK TABLE {name} IN SHARE ROW EXCLUSIVE MODE", cancellationToken);
                await ExecuteAsync(connection, $"DELETE FROM {name}", cancellationToken);
                await CopyRowsAsync(connection, name, table, cancellationToken);
                await transaction.CommitAsync(cancellationToken);
                return;
            }

            await RebuildAsync(connection, table, current, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            logger.LogInformation("Rebuilt {Table}: its columns or constraints differed from the reference table's definition; its grants were carried over", name);
        }
        catch (PostgresException exception) when (exception.SqlState == PostgresErrorCodes.DependentObjectsStillExist)
        {
            throw new ReferenceMirrorException(
                $"reference.{table.TableName} has other columns than its definition, and other objects depend on it ({exception.Detail ?? exception.MessageText}), so it cannot be replaced. Nothing was changed.", exception);
        }
        catch (PostgresException exception)
        {
            throw new ReferenceMirrorException($"The datasets database refused the change to reference.{table.TableName}: {exception.MessageText}. Nothing was changed.", exception);
        }
    }

    public async Task<bool> ExistsAsync(string tableName, CancellationToken cancellationToken)
    {
        await using var command = datasets.CreateCommand("SELECT to_regclass(format('%I.%I', $1::text, $2::text)) IS NOT NULL");
        command.Parameters.Add(new NpgsqlParameter { Value = ReferenceTable.Schema });
        command.Parameters.Add(new NpgsqlParameter { Value = tableName });
        return (bool)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>
    /// Fills a new table, then swaps it for the old one with the old one's grants, in the caller's transaction. The
    /// old table is locked last and only briefly: a reader's running query is never cancelled, and readers that
    /// arrive meanwhile wait at most <see cref="DatasetsDatabase.ReadersWaitAtMost"/> before this gives way and tries again.
    /// </summary>
    private async Task RebuildAsync(NpgsqlConnection connection, ReferenceTable table, Shape current, CancellationToken cancellationToken)
    {
        var name = $"{Quote(ReferenceTable.Schema)}.{Quote(table.TableName)}";
        // Defined names start with a letter, so this one cannot be another reference table's.
        var building = "_rebuild_" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(6));
        var buildingName = $"{Quote(ReferenceTable.Schema)}.{Quote(building)}";
        await ExecuteAsync(connection, $"CREATE TABLE {buildingName} ({ColumnDefinitions(table)})", cancellationToken);
        await CopyRowsAsync(connection, buildingName, table, cancellationToken);

        // Grants change here: one ACL change at a time with the role synchronisation.
        await ExecuteAsync(connection, $"SELECT pg_advisory_xact_lock({RoleSync.LockKey})", cancellationToken);
        await LockBrieflyAsync(connection, name, table.TableName, cancellationToken);

        // The same owner (when it is not this connection's role, only a superuser can have dropped it anyway) and the same grants.
        var grants = new List<string>();
        await using (var command = new NpgsqlCommand("""
            SELECT 'OWNER TO ' || quote_ident(pg_get_userbyid(c.relowner)), NULL FROM pg_class c WHERE c.oid = $1 AND pg_get_userbyid(c.relowner) <> current_user
            UNION ALL
            SELECT a.privilege_type, CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END || CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END
            FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) a WHERE c.oid = $1 AND a.grantee <> c.relowner
            """, connection))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = current.Oid, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Oid });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
                grants.Add(reader.IsDBNull(1) ? $"ALTER TABLE {buildingName} {reader.GetString(0)}" : $"GRANT {reader.GetString(0)} ON {buildingName} TO {reader.GetString(1)}");
        }

        foreach (var grant in grants) await ExecuteAsync(connection, grant, cancellationToken);
        await ExecuteAsync(connection, $"DROP TABLE {name}", cancellationToken);
        await ExecuteAsync(connection, $"ALTER TABLE {buildingName} RENAME TO {Quote(table.TableName)}", cancellationToken);
    }

    /// <summary>Takes ACCESS EXCLUSIVE on the old table, waiting at most <see cref="DatasetsDatabase.ReadersWaitAtMost"/> per try, so readers queue only that long.</summary>
    private static async Task LockBrieflyAsync(NpgsqlConnection connection, string name, string tableName, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            await ExecuteAsync(connection, "SAVEPOINT swap", cancellationToken);
            await ExecuteAsync(connection, $"SET LOCAL lock_timeout = {(long)ReadersWaitAtMost.TotalMilliseconds}", cancellationToken);
            try
            {
                await ExecuteAsync(connection, $"LOCK TABLE {name} IN ACCESS EXCLUSIVE MODE", cancellationToken);
                await ExecuteAsync(connection, "RELEASE SAVEPOINT swap", cancellationToken);
                await ExecuteAsync(connection, "SET LOCAL lock_timeout = 0", cancellationToken);
                return;
            }
            catch (PostgresException exception) when (exception.SqlState == PostgresErrorCodes.LockNotAvailable)
            {
                await ExecuteAsync(connection, "ROLLBACK TO SAVEPOINT swap", cancellationToken);
                if (attempt == SwapAttempts)
                    throw new ReferenceMirrorException(
                        $"reference.{tableName} is being read by a long-running query, so its columns could not be replaced. Nothing was changed: try again in a few minutes.", exception);
            }

            // Let the readers that queued behind the attempt through before the next one.
            await Task.Delay(ReadersWaitAtMost, cancellationToken);
        }
    }

    private static async Task CopyRowsAsync(NpgsqlConnection connection, string name, ReferenceTable table, CancellationToken cancellationToken)
    {
        // CSV COPY: the values were normalised to PostgreSQL's input syntax when they were validated, and are never
        // empty strings (an empty cell is null), so an unquoted empty field is NULL.
        var columnList = string.Join(", ", table.Columns.Select(c => Quote(c.Name)));
        await using var writer = await connection.BeginTextImportAsync($"COPY {name} ({columnList}) FROM STDIN (FORMAT csv)", cancellationToken);
        foreach (var row in table.Rows.OrderBy(r => r.Position))
            await writer.WriteLineAsync(string.Join(",", row.Values.Select(CsvText.Escape)));
    }

    private static string ColumnDefinitions(ReferenceTable table) =>
        string.Join(", ", table.Columns.Select(c => $"{Quote(c.Name)} {ReferenceValues.SqlType(c.Type)}{(c.Required ? " NOT NULL" : "")}"));

    /// <summary>What the table in the database is: its columns in order, and whether anything constrains its rows beyond NOT NULL.</summary>
    private sealed record Shape(uint Oid, IReadOnlyList<(string Name, string Type, bool NotNull)> Columns, bool Constrained)
    {
        public bool Matches(ReferenceTable table) =>
            !Constrained && Columns.SequenceEqual(table.Columns.Select(c => (c.Name, ReferenceValues.SqlType(c.Type), c.Required)));
    }

    private static async Task<Shape?> ShapeAsync(NpgsqlConnection connection, string tableName, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("""
            SELECT c.oid, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                   c.relkind <> 'r' OR EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid)
                   OR EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisunique)
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
            WHERE n.nspname = $1 AND c.relname = $2
            ORDER BY a.attnum
            """, connection);
        command.Parameters.Add(new NpgsqlParameter { Value = ReferenceTable.Schema });
        command.Parameters.Add(new NpgsqlParameter { Value = tableName });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        uint? oid = null;
        var constrained = false;
        var columns = new List<(string, string, bool)>();
        while (await reader.ReadAsync(cancellationToken))
        {
            oid = reader.GetFieldValue<uint>(0);
            constrained = reader.GetBoolean(4);
            if (!reader.IsDBNull(1)) columns.Add((reader.GetString(1), reader.GetString(2), reader.GetBoolean(3)));
        }

        return oid is { } found ? new Shape(found, columns, constrained) : null;
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
