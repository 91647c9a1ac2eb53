using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace DataWorkspace.Bench;

/// <summary>
/// One measured figure, beside its peer's from the same run. <see cref="Ratio"/> is always Value / PeerValue; the
/// target says which way is better (">= 0.9x", "<= 1.5x", "< 1000 ms"), and <see cref="Met"/> is the bench's verdict.
/// </summary>
public sealed record Figure(
    string Bench,
    string Name,
    double Value,
    string Unit,
    string? Peer = null,
    double? PeerValue = null,
    string? Target = null,
    bool? Met = null,
    string? Note = null)
{
    public double? Ratio => PeerValue is > 0 ? Value / PeerValue : null;
}

/// <summary>A plot's data: one line (X, Y points) or one bar per label (X = index, Labels set).</summary>
public sealed record Series(
    string Bench,
    string Plot,
    string Line,
    string XLabel,
    string YLabel,
    IReadOnlyList<double> X,
    IReadOnlyList<double> Y,
    IReadOnlyList<string>? Labels = null)
{
    public bool IsBars => Labels is not null;
}

/// <summary>
/// What a bench hands to the suite. Under the suite (<c>DW_BENCH_RESULTS</c> names a file) each record is appended as
/// one JSON line; a bench run alone prints its figures and writes nothing.
/// </summary>
public static class BenchResults
{
    public const string FileVariable = "DW_BENCH_RESULTS";
    private static readonly Lock Gate = new();

    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>True when run by the suite, which wants its bounded-time profile.</summary>
    public static bool InSuite => !string.IsNullOrEmpty(Environment.GetEnvironmentVariable(FileVariable));

    public static Figure Record(Figure figure)
    {
        Console.WriteLine($"  [figure] {Describe(figure)}");
        Append(new Entry("figure", figure, null));
        return figure;
    }

    /// <summary>A throughput-like figure where more is better: met when Value / PeerValue >= minimumRatio.</summary>
    public static Figure AtLeast(string bench, string name, double value, string unit, string peer, double peerValue, double minimumRatio, string? note = null)
    {
        var met = peerValue > 0 && value / peerValue >= minimumRatio;
        return Record(new Figure(bench, name, value, unit, peer, peerValue, $">= {minimumRatio.ToString("0.##", CultureInfo.InvariantCulture)}x", met, note));
    }

    /// <summary>A time-like figure where less is better: met when Value / PeerValue <= maximumRatio.</summary>
    public static Figure AtMost(string bench, string name, double value, string unit, string peer, double peerValue, double maximumRatio, string? note = null)
    {
        var met = peerValue > 0 && value / peerValue <= maximumRatio;
        return Record(new Figure(bench, name, value, unit, peer, peerValue, $"<= {maximumRatio.ToString("0.##", CultureInfo.InvariantCulture)}x", met, note));
    }

    /// <summary>An absolute limit (no peer): met when Value is under the limit.</summary>
    public static Figure Under(string bench, string name, double value, string unit, double limit, string? note = null) =>
        Record(new Figure(bench, name, value, unit, Target: $"< {limit.ToString("#,0.##", CultureInfo.InvariantCulture)} {unit}", Met: value < limit, Note: note));

    /// <summary>A figure reported for the record, with no target.</summary>
    public static Figure Info(string bench, string name, double value, string unit, string? peer = null, double? peerValue = null, string? note = null) =>
        Record(new Figure(bench, name, value, unit, peer, peerValue, Note: note));

    /// <summary>One line of a line plot (latency over time, say); lines of the same plot are drawn together.</summary>
    public static void Line(string bench, string plot, string line, string xLabel, string yLabel, IReadOnlyList<(double X, double Y)> points) =>
        Append(new Entry("series", null, new Series(bench, plot, line, xLabel, yLabel, [.. points.Select(p => p.X)], [.. points.Select(p => p.Y)])));

    /// <summary>A bar plot, one bar per label (throughput per peer, say).</summary>
    public static void Bars(string bench, string plot, string yLabel, IReadOnlyList<(string Label, double Value)> bars) =>
        Append(new Entry("series", null, new Series(bench, plot, plot, "", yLabel, [.. Enumerable.Range(0, bars.Count).Select(i => (double)i)], [.. bars.Select(b => b.Value)], [.. bars.Select(b => b.Label)])));

    public static string Describe(Figure f)
    {
        var n = CultureInfo.InvariantCulture;
        var text = $"{f.Bench} / {f.Name}: {f.Value.ToString("#,0.###", n)} {f.Unit}";
        if (f.Peer is not null) text += $" (peer {f.Peer}: {f.PeerValue?.ToString("#,0.###", n)} {f.Unit}; ratio {f.Ratio?.ToString("0.00", n)}x)";
        if (f.Target is not null) text += $", target {f.Target}: {(f.Met == true ? "met" : "NOT met")}";
        return text;
    }

    /// <summary>Everything a results file holds, in the order written (for the suite's table and report).</summary>
    public static (List<Figure> Figures, List<Series> Series) Read(string path)
    {
        var figures = new List<Figure>();
        var series = new List<Series>();
        if (!File.Exists(path)) return (figures, series);
        foreach (var line in File.ReadLines(path))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            var entry = JsonSerializer.Deserialize<Entry>(line, Json);
            if (entry?.Figure is not null) figures.Add(entry.Figure);
            if (entry?.Series is not null) series.Add(entry.Series);
        }
        return (figures, series);
    }

    private static void Append(Entry entry)
    {
        var path = Environment.GetEnvironmentVariable(FileVariable);
        if (string.IsNullOrEmpty(path)) return;
        var line = JsonSerializer.Serialize(entry, Json) + "\n";
        lock (Gate) File.AppendAllText(path, line);
    }

    internal sealed record Entry(string Kind, Figure? Figure, Series? Series);
}
