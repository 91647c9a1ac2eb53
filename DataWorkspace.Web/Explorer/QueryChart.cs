using System.Text.RegularExpressions;

namespace DataWorkspace.Web.Explorer;

/// <summary>
/// A chart of a query's result, kept with a saved query: its type, the column along the x axis (a pie's labels) and
/// the numeric columns plotted against it (a pie's one value column).
/// </summary>
public sealed record ChartSpec(string? Type, string? X, IReadOnlyList<string>? Y);

/// <summary>Rows of a result for a chart: at most <see cref="QueryChart.MaxRows"/>, spread evenly over the whole result.</summary>
/// <param name="Columns">x first, then each y, in the order asked.</param>
/// <param name="Total">Rows in the whole result; null while they are still being counted.</param>
public sealed record ChartData(IReadOnlyList<ResultColumn> Columns, IReadOnlyList<object?[]> Rows, long? Total);

public static partial class QueryChart
{
    public static readonly IReadOnlyList<string> Types = ["bar", "line", "scatter", "pie"];

    /// <summary>A browser draws this many points at once without stalling; larger results are sampled down to it.</summary>
    public const int MaxRows = 5000;

    public const int MaxSeries = 8;

    /// <summary>PostgreSQL's numeric types, as Npgsql names them (explorer.js marks the same ones).</summary>
    public static bool IsNumeric(string type) => NumericType().IsMatch(type);

    [GeneratedRegex(@"^(smallint|integer|bigint|numeric|real|double precision|int[248]|float[48]|decimal|money)\b")]
    private static partial Regex NumericType();

    /// <summary>What is wrong with the spec's shape, in words for the analyst; null when it is well formed.</summary>
    public static string? ShapeProblem(ChartSpec chart)
    {
        if (string.IsNullOrWhiteSpace(chart.Type) || !Types.Contains(chart.Type))
            return $"'{chart.Type}' is not a chart type: use {string.Join(", ", Types.SkipLast(1))} or {Types[^1]}.";
        if (string.IsNullOrEmpty(chart.X))
            return chart.Type == "pie" ? "Pick the column whose values label the slices." : "Pick the column for the x axis.";
        var y = chart.Y ?? [];
        if (y.Count == 0 || y.Any(string.IsNullOrEmpty))
            return chart.Type == "pie" ? "Pick the numeric column that sizes the slices." : "Pick at least one numeric column for the y axis.";
        if (chart.Type == "pie" && y.Count > 1) return "A pie chart has one value column: pick one.";
        if (y.Count > MaxSeries) return $"A chart shows at most {MaxSeries} columns on the y axis; {y.Count} were picked.";
        if (y.Distinct(StringComparer.Ordinal).Count() != y.Count) return "Each y column can be picked once.";
        return null;
    }

    /// <summary>What is wrong with the spec against the result's <paramref name="columns"/>; null when it can be drawn.</summary>
    public static string? Problem(ChartSpec chart, IReadOnlyList<ResultColumn> columns)
    {
        if (ShapeProblem(chart) is { } shape) return shape;
        if (columns.Count == 0) return "This statement returns no rows to chart: chart a SELECT.";
        var names = columns.Select(c => c.Name).ToList();
        var known = $"Its columns are {string.Join(", ", names.Take(20))}{(names.Count > 20 ? ", …" : "")}.";
        if (!names.Contains(chart.X!, StringComparer.Ordinal)) return $"The query has no column '{chart.X}'. {known}";
        foreach (var y in chart.Y!)
        {
            var column = columns.FirstOrDefault(c => c.Name == y);
            if (column is null) return $"The query has no column '{y}'. {known}";
            if (!IsNumeric(column.Type))
                return $"Column '{y}' holds {column.Type}, not numbers: only numeric columns can be plotted on the y axis (cast it, for example {y}::numeric).";
        }

        return null;
    }
}
