// bench/Faults: issue 21's faults, each recovered from with nothing lost. Starts the platform (deployment settings, two
// proxy replicas), signs in a few witness users who keep asking for access, uploading files and opening pages, and
// injects each fault in turn: PostgreSQL restarted, a tool's process killed, S3 not answering for 30 s (with an s3sync
// sidecar writing meanwhile), the web app restarted behind the proxies, one proxy replica killed. Under bench/Load the
// same plan runs during the 200-user load (FaultPlan.RunAsync). Usage: dotnet run -c Release --project bench/Faults
// [fault ...] [--witnesses 4] [--s3-outage 30]
using System.Diagnostics;
using System.Globalization;
using DataWorkspace.Bench;
using DataWorkspace.Bench.Faults;
using DataWorkspace.TestSupport;

var faults = args.TakeWhile(argument => !argument.StartsWith("--", StringComparison.Ordinal)).ToList();
if (faults.Except(FaultPlan.All).FirstOrDefault() is { } unknown)
{
    Console.Error.WriteLine($"Unknown fault '{unknown}'. Usage: dotnet run -c Release --project bench/Faults [{string.Join("|", FaultPlan.All)} ...] [--witnesses 4] [--s3-outage 30]");
    return 2;
}

int Option(string name, int fallback)
{
    var at = Array.IndexOf(args, name);
    return at >= 0 && at + 1 < args.Length && int.TryParse(args[at + 1], NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value : fallback;
}

var options = new FaultOptions
{
    Faults = faults.Count > 0 ? faults : FaultPlan.All,
    Witnesses = Option("--witnesses", 4),
    S3Outage = TimeSpan.FromSeconds(Option("--s3-outage", 30)),
};

using var cancel = new CancellationTokenSource(TimeSpan.FromMinutes(10));
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};
var clock = Stopwatch.StartNew();
var dataDirectory = Path.Combine(Path.GetTempPath(), "dw-faults-" + Guid.NewGuid().ToString("N")[..12]);
var (portal, second) = (Ports.Free(), Ports.Free());
try
{
    Console.WriteLine($"faults bench on {Environment.ProcessorCount} cores; load {File.ReadAllText("/proc/loadavg").Trim()}");
    await using var platform = await RunningPlatform.StartAsync<Projects.DataWorkspace_AppHost>(dataDirectory, portal, cancel.Token, testSettings: false,
        addResources: builder => FaultPlan.AddResources(builder, second));
    Console.WriteLine($"platform started in {clock.Elapsed.TotalSeconds:0} s");
    var outcomes = await FaultPlan.RunAsync(platform, options, line => Console.WriteLine($"[{clock.Elapsed.TotalSeconds,6:0.0}] {line}"), cancel.Token);

    Console.WriteLine();
    Console.WriteLine($"{"Fault",-22} {"Recovery",9} {"In target",9} {"Lost",5}  What happened");
    foreach (var outcome in outcomes)
        Console.WriteLine($"{outcome.Name,-22} {outcome.RecoveryTime.TotalSeconds,8:0.0}s {(outcome.RecoveredWithinTarget ? "yes" : "NO"),9} {outcome.Lost,5}  {outcome.Detail}");
    Console.WriteLine($"done in {clock.Elapsed.TotalSeconds:0} s; load {File.ReadAllText("/proc/loadavg").Trim()}");
    return 0;
}
finally
{
    TestDirectories.Delete(dataDirectory);
}
