using Npgsql;

namespace DataWorkspace.Web.Catalogue;

public sealed record TableColumn(string Name, string DataType, bool Nullable);

public sealed record TablePreview(IReadOnlyList<string> Columns, IReadOnlyList<string?[]> Rows);

/// <summary>Reads the shape and first rows of the tables that datasets point at, in the datasets database.</summary>
public sealed class DatasetsDatabase([FromKeyedServices(DatasetsDatabase.ConnectionName)] NpgsqlDataSource dataSource)
{
    public const string ConnectionName = "datasets";
    public const int PreviewRows = 10;

    /// <summary>
    /// The longest new readers of a table or view may queue behind a change that needs it to themselves (a data cut
    /// replaced, a reference table swapped) before the change gives way: such changes set it as their lock_timeout.
    /// </summary>
    public static readonly TimeSpan ReadersWaitAtMost = TimeSpan.FromSeconds(1);

    public async Task<IReadOnlyList<TableColumn>> ColumnsAsync(SourceTable table, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT column_name, data_type, is_nullable = 'YES' FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position");
        command.Parameters.Add(new NpgsqlParameter { Value = table.Schema });
        command.Parameters.Add(new NpgsqlParameter { Value = table.Table });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var columns = new List<TableColumn>();
        while (await reader.ReadAsync(cancellationToken))
            columns.Add(new TableColumn(reader.GetString(0), reader.GetString(1), reader.GetBoolean(2)));
        return columns;
    }

    /// <summary>
    /// The first rows as text, given the table's <paramref name="columns"/> (from <see cref="ColumnsAsync"/>); null when
    /// it has none, that is when the table does not exist (yet) in the datasets database.
    /// </summary>
    public async Task<TablePreview?> PreviewAsync(SourceTable table, IReadOnlyList<TableColumn> columns, CancellationToken cancellationToken)
    {
        if (columns.Count == 0) return null;

        await using var command = dataSource.CreateCommand($"SELECT * FROM {Quote(table.Schema)}.{Quote(table.Table)} LIMIT {PreviewRows}");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var rows = new List<string?[]>();
        while (await reader.ReadAsync(cancellationToken))
        {
            var row = new string?[reader.FieldCount];
            for (var i = 0; i < reader.FieldCount; i++)
                row[i] = reader.IsDBNull(i) ? null : Convert.ToString(reader.GetValue(i), System.Globalization.CultureInfo.InvariantCulture);
            rows.Add(row);
        }

        return new TablePreview([.. columns.Select(c => c.Name)], rows);
    }

    public static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"") + "\"";
}
