using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace DataWorkspace.Sidecars.Tests;

/// <summary>Reading the sidecars' Prometheus text as Prometheus would, and checking it with <c>promtool check metrics</c>.</summary>
internal static partial class PrometheusText
{
    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    public sealed record Series(string Name, IReadOnlyDictionary<string, string> Labels, double Value);

    public static List<Series> Parse(string text)
    {
        var series = new List<Series>();
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0 || line.StartsWith('#'))
                continue;
            var match = SampleLine().Match(line);
            Assert.True(match.Success, $"Not a Prometheus sample line: {line}");
            var labels = LabelPair().Matches(match.Groups["labels"].Value)
                .ToDictionary(pair => pair.Groups[1].Value, pair => Regex.Unescape(pair.Groups[2].Value));
            series.Add(new Series(match.Groups["name"].Value, labels, double.Parse(match.Groups["value"].Value, CultureInfo.InvariantCulture)));
        }
        return series;
    }

    /// <summary>The value of the one series with this name whose labels include <paramref name="labels"/>.</summary>
    public static double Value(IReadOnlyList<Series> series, string name, params KeyValuePair<string, string>[] labels)
    {
        var matching = series.Where(s => s.Name == name && labels.All(label => s.Labels.GetValueOrDefault(label.Key) == label.Value)).ToList();
        Assert.True(matching.Count == 1, $"Expected one {name} with {string.Join(", ", labels)}; found {matching.Count}.");
        return matching[0].Value;
    }

    [GeneratedRegex("""^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>.*)\})?\s+(?<value>\S+)(\s+\d+)?$""")]
    private static partial Regex SampleLine();

    [GeneratedRegex(@"([a-zA-Z_][a-zA-Z0-9_]*)=""((?:[^""\\]|\\.)*)""")]
    private static partial Regex LabelPair();

    public static async Task AssertPromtoolAcceptsAsync(string text)
    {
        using var promtool = Process.Start(new ProcessStartInfo("promtool", ["check", "metrics"])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        }) ?? throw new InvalidOperationException("promtool did not start");
        var output = promtool.StandardOutput.ReadToEndAsync(Cancellation);
        var error = promtool.StandardError.ReadToEndAsync(Cancellation);
        await promtool.StandardInput.WriteAsync(text);
        promtool.StandardInput.Close();
        await promtool.WaitForExitAsync(Cancellation);
        Assert.True(promtool.ExitCode == 0, $"promtool check metrics failed: {await output}{await error}\n{text}");
    }
}
