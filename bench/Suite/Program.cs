// bench/Suite: every bench in turn, each within its budget, then one table of figures beside their peers' and a
// Markdown report with SVG plots. Run: ./dw bench [--only Tools,Files] [--skip Load] [--output DIR] [--budget Csv=0.5]
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using DataWorkspace.Bench;
using DataWorkspace.Bench.Suite;

const string Usage = """
    Usage: ./dw bench [--only Step,Step] [--skip Step,Step] [--output DIR] [--budget Step=minutes]
      (or: dotnet run -c Release --project bench/Suite -- [options])
    Runs the benches in turn, each killed at its budget, then prints one table and writes DIR/report.md with SVG plots
    (DIR defaults to bench/results/<yyyy-MM-dd-HHmm>/). Exit code 0 when every step finished, 1 otherwise.
    """;

var root = FindRoot();
if (root is null)
{
    Console.Error.WriteLine("Run the suite from the repository (a folder with bench/BenchKit): ./dw bench");
    return 2;
}

var only = new List<string>();
var skip = new List<string>();
var budgets = new Dictionary<string, TimeSpan>(StringComparer.OrdinalIgnoreCase);
string? output = null;
for (var i = 0; i < args.Length; i++)
{
    string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
    try
    {
        switch (args[i])
        {
            case "--only": only.AddRange(Names(Value())); break;
            case "--skip": skip.AddRange(Names(Value())); break;
            case "--output": output = Value(); break;
            case "--budget":
                var (name, minutes) = Value().Split('=', 2) is [var n, var m] ? (n, m) : throw new ArgumentException("--budget wants Step=minutes, e.g. Csv=0.5");
                budgets[name] = TimeSpan.FromMinutes(double.Parse(minutes, CultureInfo.InvariantCulture));
                break;
            case "-h" or "--help": Console.WriteLine(Usage); return 0;
            default: throw new ArgumentException($"unknown option {args[i]}");
        }
    }
    catch (Exception exception) when (exception is ArgumentException or FormatException)
    {
        Console.Error.WriteLine($"./dw bench: {exception.Message}\n{Usage}");
        return 2;
    }
}
var unknown = only.Concat(skip).Concat(budgets.Keys).Where(name => !Step.All.Any(step => step.Name.Equals(name, StringComparison.OrdinalIgnoreCase))).ToList();
if (unknown.Count > 0)
{
    Console.Error.WriteLine($"./dw bench: no step named {string.Join(", ", unknown)}. The steps: {string.Join(", ", Step.All.Select(step => step.Name))}.");
    return 2;
}

var steps = Step.All
    .Where(step => only.Count == 0 || only.Contains(step.Name, StringComparer.OrdinalIgnoreCase))
    .Where(step => !skip.Contains(step.Name, StringComparer.OrdinalIgnoreCase))
    .Select(step => budgets.TryGetValue(step.Name, out var budget) ? step with { Budget = budget } : step)
    .ToList();
if (steps.Count == 0)
{
    Console.Error.WriteLine("./dw bench: --only and --skip leave no step to run.");
    return 2;
}

var started = DateTime.Now;
var folder = Path.GetFullPath(output ?? Path.Combine(root, "bench", "results", started.ToString("yyyy-MM-dd-HHmm", CultureInfo.InvariantCulture)));
Directory.CreateDirectory(Path.Combine(folder, "logs"));
var results = Path.Combine(folder, "results.jsonl");
File.WriteAllText(results, "");
var environment = new Dictionary<string, string>
{
    [BenchResults.FileVariable] = results,
    ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
    ["DOTNET_NOLOGO"] = "1",
};

// Ctrl+C (or SIGTERM) stops the running step's whole session, skips the rest, and still writes the report.
using var interrupt = new CancellationTokenSource();
void Interrupt(PosixSignalContext context)
{
    context.Cancel = true;
    if (!interrupt.IsCancellationRequested) SessionProcess.Say("==> Stopping: the running step is stopped, the rest skipped, and the report written with what there is.");
    interrupt.Cancel();
}
using var onInterrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Interrupt);
using var onTerminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Interrupt);

var clock = Stopwatch.StartNew();
var loadBefore = Machine.LoadAverage();
var outcomes = steps.Select(step => new StepOutcome(step)).ToList();
var commandLine = "./dw bench" + (args.Length > 0 ? " " + string.Join(' ', args) : "");
SessionProcess.Say($"==> {commandLine}: {steps.Count} step(s), budgets {Format.Duration(TimeSpan.FromTicks(steps.Sum(step => step.Budget.Ticks)))} in all; "
    + $"{Environment.ProcessorCount} cores, load average {loadBefore}; results in {folder}");

// Every bench is built first, so that each step's budget is its run alone (dotnet run --no-build).
var buildClock = Stopwatch.StartNew();
for (var i = 0; i < outcomes.Count && !interrupt.IsCancellationRequested; i++)
{
    var outcome = outcomes[i];
    var project = outcome.Step.Project(root);
    if (!File.Exists(project))
    {
        outcome.Status = StepStatus.Missing;
        SessionProcess.Say($"==> Build {i + 1}/{outcomes.Count}: bench/{outcome.Step.Name} does not exist; it is listed as not run");
        continue;
    }
    SessionProcess.Say($"==> Build {i + 1}/{outcomes.Count}: bench/{outcome.Step.Name} (dotnet build -c Release)");
    var log = Path.Combine(folder, "logs", $"build-{outcome.Step.Name}.log");
    var build = await SessionProcess.RunAsync($"build {outcome.Step.Name}", "dotnet", ["build", project, "-c", "Release", "-v", "m", "--nologo", "-clp:NoSummary"],
        root, environment, TimeSpan.FromMinutes(10), stopWhatItLeaves: false, log, interrupt.Token);
    outcome.BuildTime = build.Elapsed;
    if (build.ExitCode != 0)
    {
        outcome.Status = build.Interrupted ? StepStatus.Interrupted : StepStatus.BuildFailed;
        outcome.LastLine = build.LastLine;
        outcome.Log = Path.GetRelativePath(folder, log);
        SessionProcess.Say($"==> bench/{outcome.Step.Name} did not build: it is listed as failed, and the suite goes on");
    }
}
var buildTime = buildClock.Elapsed;

long offset = 0;
for (var i = 0; i < outcomes.Count; i++)
{
    var outcome = outcomes[i];
    if (outcome.Status is StepStatus.Missing or StepStatus.BuildFailed or StepStatus.Interrupted) continue;
    if (interrupt.IsCancellationRequested) break;
    var step = outcome.Step;
    outcome.LoadBefore = Machine.LoadAverage();
    SessionProcess.Say($"==> Step {i + 1}/{outcomes.Count}: {step.Name}, budget {Format.Duration(step.Budget)} ({step.Command}); suite time so far {Format.Duration(clock.Elapsed)}, load {outcome.LoadBefore}");
    var log = Path.Combine(folder, "logs", $"{step.Name}.log");
    outcome.Log = Path.GetRelativePath(folder, log);
    var run = await SessionProcess.RunAsync(step.Name, "dotnet", ["run", "-c", "Release", "--no-build", "--project", step.Project(root), "--", .. step.Arguments],
        root, environment, step.Budget, stopWhatItLeaves: true, log, interrupt.Token);
    outcome.RunTime = run.Elapsed;
    outcome.ExitCode = run.ExitCode;
    outcome.Survivors = run.Survivors;
    outcome.LastLine = run.LastLine;
    outcome.LoadAfter = Machine.LoadAverage();
    outcome.Status = run.OverBudget ? StepStatus.Killed : run.Interrupted ? StepStatus.Interrupted : run.ExitCode == 0 ? StepStatus.Finished : StepStatus.Failed;

    BenchResultsReader.EndLine(results);
    var (figures, series, end, unreadable) = BenchResultsReader.ReadFrom(results, offset);
    offset = end;
    outcome.Figures.AddRange(figures);
    outcome.Series.AddRange(series);
    outcome.Unreadable = unreadable;
    SessionProcess.Say($"==> {step.Name}: {outcome.Describe()} in {Format.Duration(run.Elapsed)} (budget {Format.Duration(step.Budget)}); {figures.Count} figure(s), {series.Count} plot series"
        + (outcome.Succeeded ? "" : "; the suite goes on"));
}

var report = new Report(outcomes, buildTime, clock.Elapsed, loadBefore, Machine.LoadAverage(), started, commandLine);
report.Print();
var written = report.Write(folder, root);
Console.WriteLine($"Report: {written}");
return outcomes.All(outcome => outcome.Succeeded) ? 0 : 1;

static IEnumerable<string> Names(string list) => list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

// The repository: the working folder or the one the suite was built in, whichever has bench/BenchKit above it.
static string? FindRoot()
{
    foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        for (var folder = new DirectoryInfo(start); folder is not null; folder = folder.Parent)
            if (Directory.Exists(Path.Combine(folder.FullName, "bench", "BenchKit")))
                return folder.FullName;
    return null;
}
