using System.Text;

namespace DataWorkspace.Bench.Suite;

/// <summary>One row of the table: a figure, or a step that ended without finishing.</summary>
internal sealed record Row(string Bench, string Figure, string Value, string Peer, string PeerValue, string Ratio, string Target, string Met, string Note)
{
    public static readonly string[] Headers = ["Bench", "Figure", "Value", "Peer", "Peer value", "Ratio", "Target", "Met", "Note"];

    public string[] Cells => [Bench, Figure, Value, Peer, PeerValue, Ratio, Target, Met, Note];
}

/// <summary>The suite's output: one table on the console, and report.md with an SVG per plot in the output folder.</summary>
internal sealed class Report(IReadOnlyList<StepOutcome> outcomes, TimeSpan buildTime, TimeSpan total, string loadBefore, string loadAfter, DateTime started, string commandLine)
{
    private const int ConsoleNoteWidth = 70;

    /// <summary>Info figures named "version ..." say which peer programs ran; the report lists them with the machine.</summary>
    private static bool IsVersion(Figure figure) => figure.Target is null && figure.Name.StartsWith("version", StringComparison.OrdinalIgnoreCase);

    public List<Row> Rows()
    {
        var rows = new List<Row>();
        foreach (var outcome in outcomes)
        {
            var figures = outcome.Figures.Where(figure => !IsVersion(figure)).ToList();
            foreach (var f in figures)
                rows.Add(new Row(f.Bench, f.Name, Format.WithUnit(f.Value, f.Unit), f.Peer ?? "", f.PeerValue is { } peer ? Format.WithUnit(peer, f.Unit) : "",
                    Format.Ratio(f.Ratio), f.Target ?? "", f.Met switch { true => "met", false => "NOT met", null => "" }, f.Note ?? ""));
            if (outcome.Status == StepStatus.NotRun) continue;
            if (!outcome.Succeeded)
                rows.Add(new Row(outcome.Step.Name, $"{Verdict(outcome)} ({(figures.Count == 0 ? "no figures" : $"after {figures.Count} figure(s)")})",
                    "", "", "", "", "", "NOT met", outcome.LastLine));
            else if (figures.Count == 0)
                rows.Add(new Row(outcome.Step.Name, "finished, but reported no figures", "", "", "", "", "", "", "the bench does not report through BenchKit yet"));
        }
        return rows;
    }

    private static string Verdict(StepOutcome outcome) => outcome.Status switch
    {
        StepStatus.Killed => $"killed at its budget ({Format.Duration(outcome.Step.Budget)})",
        StepStatus.Failed => $"failed (exit code {outcome.ExitCode})",
        StepStatus.Interrupted => "interrupted",
        StepStatus.BuildFailed => "failed to build",
        StepStatus.Missing => "no project",
        _ => outcome.Status.ToString(),
    };

    public void Print()
    {
        var rows = Rows();
        var cells = rows.Select(row => row.Cells.Select((cell, i) => i == 8 && cell.Length > ConsoleNoteWidth ? cell[..(ConsoleNoteWidth - 3)] + "..." : cell).ToArray()).ToList();
        var widths = Row.Headers.Select((header, i) => cells.Select(row => row[i].Length).Append(header.Length).Max()).ToArray();
        string Line(IReadOnlyList<string> row) => string.Join("  ", row.Select((cell, i) => i is 2 or 4 or 5 ? cell.PadLeft(widths[i]) : cell.PadRight(widths[i]))).TrimEnd();
        Console.WriteLine();
        Console.WriteLine(Line(Row.Headers));
        Console.WriteLine(string.Join("  ", widths.Select(width => new string('-', width))));
        foreach (var row in cells) Console.WriteLine(Line(row));
        Console.WriteLine();
        Console.WriteLine($"Build {Format.Duration(buildTime)}; steps: " + string.Join(", ", outcomes.Where(o => o.Status != StepStatus.NotRun).Select(o => $"{o.Step.Name} {Format.Duration(o.RunTime)}")));
        Console.WriteLine($"Total time: {Format.Duration(total)} (load average before {loadBefore}, after {loadAfter})");
    }

    /// <summary>Writes report.md and one SVG per plot into <paramref name="folder"/>; returns report.md's path.</summary>
    public string Write(string folder, string root)
    {
        var md = new StringBuilder();
        md.AppendLine($"# Bench suite, {started:yyyy-MM-dd HH:mm}");
        md.AppendLine();
        md.AppendLine($"`{commandLine}`: total **{Format.Duration(total)}** (build {Format.Duration(buildTime)}). Each figure is measured beside its peer's in the same run; "
            + "the ratio is value / peer value, and the target says which way is better. Raw records: [results.jsonl](results.jsonl); each step's output: logs/.");
        md.AppendLine();
        var rows = Rows();
        md.AppendLine("| " + string.Join(" | ", Row.Headers) + " |");
        md.AppendLine("|" + string.Join("|", Row.Headers.Select((_, i) => i is 2 or 4 or 5 ? "---:" : "---")) + "|");
        foreach (var row in rows)
            md.AppendLine("| " + string.Join(" | ", row.Cells.Select((cell, i) => i == 7 && cell == "NOT met" ? "**NOT met**" : Cell(cell))) + " |");
        md.AppendLine();

        md.AppendLine("## Targets not met");
        md.AppendLine();
        var missed = outcomes.SelectMany(o => o.Figures).Where(f => f.Met == false).ToList();
        var unfinished = outcomes.Where(o => o.Status != StepStatus.NotRun && !o.Succeeded).ToList();
        if (missed.Count == 0 && unfinished.Count == 0) md.AppendLine("None: every target measured was met and every step finished.");
        foreach (var f in missed)
            md.AppendLine($"- **{Cell(f.Bench)} / {Cell(f.Name)}**: {Format.WithUnit(f.Value, f.Unit)}"
                + (f.Peer is null ? "" : $" against {Cell(f.Peer)}'s {Format.WithUnit(f.PeerValue ?? 0, f.Unit)} ({Format.Ratio(f.Ratio)})")
                + $", target {Cell(f.Target ?? "")}" + (string.IsNullOrEmpty(f.Note) ? "" : $". {Cell(f.Note)}"));
        foreach (var o in unfinished)
            md.AppendLine($"- **{o.Step.Name}**: {o.Describe()} after {Format.Duration(o.RunTime)}, {(o.Figures.Count == 0 ? "no figures" : $"{o.Figures.Count} figure(s) before that")}"
                + (string.IsNullOrEmpty(o.LastLine) ? "" : $"; its last line: `{o.LastLine.Replace('`', '\'')}`") + (o.Log is null ? "" : $" ([log]({o.Log}))"));
        md.AppendLine();

        md.AppendLine("## Plots");
        md.AppendLine();
        var plots = outcomes.SelectMany(o => o.Series).GroupBy(s => (s.Bench, s.Plot)).ToList();
        if (plots.Count == 0) md.AppendLine("No bench recorded a plot.");
        foreach (var plot in plots)
        {
            var title = $"{plot.Key.Bench}: {plot.Key.Plot}";
            var file = Format.Slug($"{plot.Key.Bench}-{plot.Key.Plot}") + ".svg";
            var series = plot.ToList();
            File.WriteAllText(Path.Combine(folder, file), series.Any(s => s.IsBars) ? SvgChart.Bars(title, [.. series.Where(s => s.IsBars)]) : SvgChart.Lines(title, series));
            md.AppendLine($"![{Cell(title)}]({file})");
            md.AppendLine();
        }

        md.AppendLine("## Steps");
        md.AppendLine();
        md.AppendLine("| Step | Command | Budget | Build | Time | Outcome | Load before / after | Log |");
        md.AppendLine("|---|---|---:|---:|---:|---|---|---|");
        foreach (var o in outcomes)
            md.AppendLine($"| {o.Step.Name} | `{o.Step.Command}` | {Format.Duration(o.Step.Budget)} | {Format.Duration(o.BuildTime)} | {(o.Status is StepStatus.NotRun or StepStatus.Missing or StepStatus.BuildFailed ? "" : Format.Duration(o.RunTime))} | "
                + $"{Cell(o.Describe())}{(o.Survivors > 0 ? $"; left {o.Survivors} process(es) running, stopped" : "")}{(o.Unreadable > 0 ? $"; {o.Unreadable} unreadable result line(s)" : "")} | "
                + $"{o.LoadBefore} / {o.LoadAfter} | {(o.Log is null ? "" : $"[{Path.GetFileName(o.Log)}]({o.Log})")} |");
        md.AppendLine();

        md.AppendLine("## Machine");
        md.AppendLine();
        foreach (var (name, value) in Machine.Describe(root))
            md.AppendLine($"- {name}: {Cell(value)}");
        md.AppendLine($"- Load average (1, 5, 15 min): before {loadBefore}; after {loadAfter}");
        var versions = outcomes.SelectMany(o => o.Figures).Where(IsVersion).ToList();
        if (versions.Count > 0)
        {
            md.AppendLine("- Peers:");
            foreach (var v in versions.DistinctBy(v => (v.Name, v.Note)))
                md.AppendLine($"  - {Cell(v.Name)} ({Cell(v.Bench)}): {Cell(v.Note ?? Format.WithUnit(v.Value, v.Unit))}");
        }

        var path = Path.Combine(folder, "report.md");
        File.WriteAllText(path, md.ToString());
        return path;
    }

    private static string Cell(string text) => text.Replace("|", "\\|", StringComparison.Ordinal).Replace('\n', ' ').Replace('\r', ' ');
}
