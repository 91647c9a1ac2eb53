namespace DataWorkspace.Bench.Suite;

/// <summary>One bench the suite runs: bench/&lt;Name&gt;, its arguments, and the time it may take.</summary>
internal sealed record Step(string Name, string[] Arguments, TimeSpan Budget)
{
    /// <summary>The suite in its order; the budgets add up to 24.5 minutes, leaving the build room within 30.</summary>
    public static readonly IReadOnlyList<Step> All =
    [
        new("Tools", ["all"], TimeSpan.FromMinutes(6)),
        new("Load", [], TimeSpan.FromMinutes(7)),
        new("Fuzz", [], TimeSpan.FromMinutes(2)),
        new("DataAccess", [], TimeSpan.FromMinutes(2)),
        new("CatalogueSearch", [], TimeSpan.FromMinutes(2.5)),
        new("Files", [], TimeSpan.FromMinutes(2.5)),
        new("S3Sync", ["speed"], TimeSpan.FromMinutes(1)),
        new("DnsRewrite", [], TimeSpan.FromMinutes(1)),
        new("Csv", [], TimeSpan.FromMinutes(0.5)),
    ];

    public string Project(string root) => Path.Combine(root, "bench", Name, Name + ".csproj");

    public string Command => $"dotnet run -c Release --project bench/{Name}" + (Arguments.Length > 0 ? " -- " + string.Join(' ', Arguments) : "");
}

internal enum StepStatus
{
    NotRun,
    Finished,
    Failed,
    Killed,
    Interrupted,
    BuildFailed,
    Missing,
}

/// <summary>What became of a step: how it ended, its time, the load around it, and what it reported.</summary>
internal sealed class StepOutcome(Step step)
{
    public Step Step { get; } = step;
    public StepStatus Status { get; set; } = StepStatus.NotRun;
    public int? ExitCode { get; set; }
    public TimeSpan BuildTime { get; set; }
    public TimeSpan RunTime { get; set; }
    public string LoadBefore { get; set; } = "";
    public string LoadAfter { get; set; } = "";
    public int Survivors { get; set; }
    public string LastLine { get; set; } = "";
    public string? Log { get; set; }
    public List<Figure> Figures { get; } = [];
    public List<Series> Series { get; } = [];
    public int Unreadable { get; set; }

    public bool Succeeded => Status == StepStatus.Finished;

    /// <summary>How the step ended, in words, for the table and the report.</summary>
    public string Describe() => Status switch
    {
        StepStatus.Finished => "finished",
        StepStatus.Failed => $"failed (exit code {ExitCode})",
        StepStatus.Killed => $"killed at its budget of {Format.Duration(Step.Budget)}",
        StepStatus.Interrupted => "interrupted (the suite was stopped)",
        StepStatus.BuildFailed => "failed to build",
        StepStatus.Missing => $"not run: bench/{Step.Name} does not exist",
        _ => "not run (the suite was stopped first)",
    };
}
