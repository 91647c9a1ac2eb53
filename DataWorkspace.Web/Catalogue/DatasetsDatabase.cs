using Npgsql;

namespace DataWorkspace.Web.Catalogue;

public sealed record TableColumn(string Name, string DataType, bool Nullable);

public sealed record TablePreview(IReadOnlyList<string> Columns, IReadOnlyList<string?[]> Rows);

/// <summary>A table's numeric columns summed over its date column, by day, month or year (the unit fits the dates' span).</summary>
/// <param name="RowsRead">Rows the sums cover: all of them, or the first <see cref="DatasetsDatabase.ChartRows"/>.</param>
public sealed record TableChart(string DateColumn, IReadOnlyList<string> Values, string Unit, IReadOnlyList<TableChartPoint> Points, long RowsRead)
{
    public bool Capped => RowsRead >= DatasetsDatabase.ChartRows;
}

public sealed record TableChartPoint(DateOnly Date, IReadOnlyList<double?> Sums);

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

    /// <summary>The most rows a dataset page's chart sums, so a page of a huge table stays quick.</summary>
    public const int ChartRows = 100_000;

    private const int MaxChartValues = 4;
    private static readonly string[] DateTypes = ["date", "timestamp without time zone", "timestamp with time zone"];
    private static readonly string[] NumericTypes = ["smallint", "integer", "bigint", "numeric", "real", "double precision"];

    /// <summary>
    /// The numeric columns summed over the first date column, when the table has both (identifiers such as <c>id</c>
    /// and <c>*_id</c> are not numbers worth summing); null otherwise, or when it has no dated rows.
    /// </summary>
    public async Task<TableChart?> ChartAsync(SourceTable table, IReadOnlyList<TableColumn> columns, CancellationToken cancellationToken)
    {
        var date = columns.FirstOrDefault(c => DateTypes.Contains(c.DataType));
        var values = columns.Where(c => NumericTypes.Contains(c.DataType) && c.Name != "id" && !c.Name.EndsWith("_id", StringComparison.Ordinal))
            .Take(MaxChartValues).Select(c => c.Name).ToList();
        if (date is null || values.Count == 0) return null;

        var picked = string.Join(", ", values.Select((name, i) => $"{Quote(name)} AS v{i}"));
        var sums = string.Join(", ", values.Select((_, i) => $"sum(v{i})::float8"));
        await using var command = dataSource.CreateCommand($"""
            WITH picked AS (SELECT {Quote(date.Name)}::timestamp AS at, {picked} FROM {Quote(table.Schema)}.{Quote(table.Table)} WHERE {Quote(date.Name)} IS NOT NULL LIMIT {ChartRows}),
                 span AS (SELECT CASE WHEN max(at) - min(at) <= interval '400 days' THEN 'day' WHEN max(at) - min(at) <= interval '40 years' THEN 'month' ELSE 'year' END AS unit,
                                 count(*) AS rows FROM picked)
            SELECT date_trunc(span.unit, picked.at)::date, span.unit, span.rows, {sums} FROM picked, span GROUP BY 1, 2, 3 ORDER BY 1
            """);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var points = new List<TableChartPoint>();
        var (unit, rows) = ("day", 0L);
        while (await reader.ReadAsync(cancellationToken))
        {
            (unit, rows) = (reader.GetString(1), reader.GetInt64(2));
            points.Add(new TableChartPoint(reader.GetFieldValue<DateOnly>(0), [.. values.Select((_, i) => reader.IsDBNull(3 + i) ? (double?)null : reader.GetDouble(3 + i))]));
        }

        return points.Count == 0 ? null : new TableChart(date.Name, values, unit, points, rows);
    }

    public static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"") + "\"";
}
