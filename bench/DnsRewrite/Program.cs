// bench/DnsRewrite: the dns-rewrite sidecar against dnsmasq forwarding, both in front of the same local upstream (a
// third dnsmasq answering from a hosts file), measured with dnsperf. Target (issue 18): queries per second with 20
// rules at least 0.5x dnsmasq forwarding on this machine.
// Run: dotnet run -c Release --project bench/DnsRewrite [--seconds 20] [--rounds 3] [--clients 8] [--outstanding 100]
//      [--compare path/to/another/dataworkspace-sidecar.dll] (a build to measure beside this one, e.g. before a change)
// In the suite (1 minute) the rounds are 5 s and the warm-up shorter, unless the options say otherwise.
using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using DataWorkspace.Bench;

const int Rules = 20;
const int Names = 1_000;
const double Target = 0.5;
var seconds = Option("--seconds", BenchResults.InSuite ? 5 : 20);
var rounds = Option("--rounds", 3);
var clients = Option("--clients", 8);
var outstanding = Option("--outstanding", 100);
var compare = args.SkipWhile(a => a != "--compare").Skip(1).FirstOrDefault();

foreach (var (tool, package) in new[] { ("dnsperf", "dnsperf"), ("dnsmasq", "dnsmasq") })
{
    if (!Environment.GetEnvironmentVariable("PATH")!.Split(':').Concat(["/usr/sbin"]).Any(directory => File.Exists(Path.Combine(directory, tool))))
    {
        Console.Error.WriteLine($"This bench needs {tool}: apt-get install {package}");
        return 2;
    }
}

var work = Directory.CreateTempSubdirectory("dw-bench-dns-").FullName;
var started = new List<Server>();
try
{
    var (upstreamPort, dnsmasqPort, sidecarPort, comparedPort) = (DnsPorts.Free(), DnsPorts.Free(), DnsPorts.Free(), DnsPorts.Free());

    // The upstream knows every asked name (for dnsmasq, which forwards it as asked) and every rewritten name (for the
    // sidecar), with an IPv4 and an IPv6 address each.
    var hosts = new StringBuilder();
    for (var i = 1; i <= Names; i++)
    {
        hosts.AppendLine(CultureInfo.InvariantCulture, $"10.1.{i / 256}.{i % 256} tool-{i:D4}.tools.internal tool-{i:D4}.lb.test");
        hosts.AppendLine(CultureInfo.InvariantCulture, $"fd00::1:{i:x} tool-{i:D4}.tools.internal tool-{i:D4}.lb.test");
    }
    var hostsFile = Path.Combine(work, "hosts");
    await File.WriteAllTextAsync(hostsFile, hosts.ToString());
    // Tools ask for A and AAAA alike; every name is matched only by the last of the 20 rules.
    var queryFile = Path.Combine(work, "queries.txt");
    await File.WriteAllLinesAsync(queryFile, Enumerable.Range(1, Names).SelectMany(i => new[] { $"tool-{i:D4}.tools.internal A", $"tool-{i:D4}.tools.internal AAAA" }));

    string[] common = ["-k", "-C", "/dev/null", "--no-resolv", "--no-hosts", "--bind-interfaces", "--listen-address=127.0.0.1", "--pid-file=", "--user=root", "--log-facility=-"];
    var upstream = Server.Start("upstream (dnsmasq, hosts file)", "dnsmasq",
        [.. common, $"--port={upstreamPort}", $"--addn-hosts={hostsFile}", "--local-ttl=300"]);
    started.Add(upstream);

    // The same 20 rules both ways: 19 teams' domains that the names do not match, then the tools' domain.
    var domains = Enumerable.Range(1, Rules - 1).Select(team => $"team{team:D2}.internal").Append("tools.internal").ToList();
    var targets = new List<Server>
    {
        // No cache: every query is forwarded, as every query of the sidecar is; the sidecar's own ceiling of lookups in flight (4,096) instead of dnsmasq's 150.
        Server.Start("dnsmasq forwarding", "dnsmasq",
            [.. common, $"--port={dnsmasqPort}", "--cache-size=0", "--dns-forward-max=4096", .. domains.Select(domain => $"--server=/{domain}/127.0.0.1#{upstreamPort}")]),
        Server.Start("dns-rewrite", "dotnet", Sidecar(Path.Combine(AppContext.BaseDirectory, "dataworkspace-sidecar.dll"), sidecarPort)),
    };
    var ports = new Dictionary<Server, int> { [targets[0]] = dnsmasqPort, [targets[1]] = sidecarPort };
    if (compare is not null)
    {
        targets.Add(Server.Start("dns-rewrite compared", "dotnet", Sidecar(Path.GetFullPath(compare), comparedPort)));
        ports[targets[2]] = comparedPort;
    }
    started.AddRange(targets);

    // As deployed: with its health endpoint and so its metrics, whose counters then count every query.
    string[] Sidecar(string dll, int port) =>
        [dll, "dns-rewrite", "--listen", $"127.0.0.1:{port}", "--upstream", $"127.0.0.1:{upstreamPort}",
         "--health-port", DnsPorts.Free().ToString(CultureInfo.InvariantCulture), "--health-name", "tool-0001.tools.internal",
         .. Enumerable.Range(1, Rules - 1).SelectMany(team => new[] { "--rule", $@"^(.+)\.team{team:D2}\.internal$=>$1.lb{team:D2}.test" }),
         "--rule", @"^(.+)\.tools\.internal$=>$1.lb.test"];

    foreach (var server in targets)
    {
        var answer = await AskAsync(ports[server], "tool-0042.tools.internal");
        if (answer != "10.1.0.42")
            throw new InvalidOperationException($"{server.Name} answered tool-0042.tools.internal A with '{answer}', not 10.1.0.42:\n{server.Output}");
    }
    Console.WriteLine($"Upstream on 127.0.0.1:{upstreamPort}, dnsmasq forwarding on {dnsmasqPort}, dns-rewrite on {sidecarPort}"
        + (compare is null ? "" : $", the compared build ({compare}) on {comparedPort}") + $"; {Rules} rules, {Names:N0} names x A and AAAA, all matched by the last rule.");
    Console.WriteLine($"dnsperf -c {clients} -q {outstanding} -l {seconds}, {rounds} rounds, the servers taking turns. Load average now: {LoadAverage()}.");

    // The sidecar's JIT compiles its hot paths again with profile data during the first tens of seconds under load.
    int[] warmUp = BenchResults.InSuite ? [8] : [10, 10];
    var dnsmasqWarmUp = BenchResults.InSuite ? 2 : 5;
    Console.WriteLine($"Warming up: each dns-rewrite {warmUp.Length} x {warmUp[0]} s, dnsmasq {dnsmasqWarmUp} s ...");
    foreach (var server in targets.Skip(1))
        foreach (var duration in warmUp)
            await DnsperfAsync(ports[server], duration);
    await DnsperfAsync(dnsmasqPort, dnsmasqWarmUp);

    var results = new List<Result>();
    Console.WriteLine();
    Console.WriteLine($"{"Round",-6}{"Server",-20}{"queries/s",12}{"answered",10}{"lost",7}{"avg ms",9}{"sd ms",8}{"us CPU/q",10}{"upstream us/q",15}{"load",7}{"stolen s",10}  response codes");
    for (var round = 1; round <= rounds; round++)
    {
        foreach (var server in targets.Skip((round - 1) % targets.Count).Concat(targets.Take((round - 1) % targets.Count)))
        {
            var (load, stolenBefore) = (LoadAverage(), ProcessFacts.StolenSeconds());
            var (serverCpu, upstreamCpu) = (server.CpuSeconds(), upstream.CpuSeconds());
            var run = await DnsperfAsync(ports[server], seconds);
            var result = new Result(round, server.Name, run,
                (server.CpuSeconds() - serverCpu) * 1e6 / run.Completed, (upstream.CpuSeconds() - upstreamCpu) * 1e6 / run.Completed,
                load, ProcessFacts.StolenSeconds() - stolenBefore);
            results.Add(result);
            Console.WriteLine($"{round,-6}{server.Name,-20}{run.QueriesPerSecond,12:N0}{run.CompletedPercent,9:0.00}%{run.Lost,7}{run.AverageMilliseconds,9:0.00}{run.StdDevMilliseconds,8:0.00}"
                + $"{result.ServerMicroseconds,10:0.0}{result.UpstreamMicroseconds,15:0.0}{load,7}{result.Stolen,10:0.0}  {run.ResponseCodes}");
        }
    }

    double Median(string name, Func<Result, double> value)
    {
        var sorted = results.Where(r => r.Server == name).Select(value).Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }
    var dnsmasqName = targets[0].Name;
    Console.WriteLine();
    foreach (var name in targets.Select(server => server.Name))
        Console.WriteLine($"{name,-20} median {Median(name, r => r.Run.QueriesPerSecond),8:N0} queries/s, avg latency {Median(name, r => r.Run.AverageMilliseconds):0.00} ms, "
            + $"{Median(name, r => r.ServerMicroseconds):0.0} us of its CPU and {Median(name, r => r.UpstreamMicroseconds):0.0} us of the upstream's a query");
    foreach (var sidecarName in targets.Skip(1).Select(server => server.Name))
    {
        var ratio = Median(sidecarName, r => r.Run.QueriesPerSecond) / Median(dnsmasqName, r => r.Run.QueriesPerSecond);
        var ratios = Enumerable.Range(1, rounds).Select(round =>
            results.Single(r => r.Round == round && r.Server == sidecarName).Run.QueriesPerSecond / results.Single(r => r.Round == round && r.Server == dnsmasqName).Run.QueriesPerSecond);
        Console.WriteLine($"{sidecarName} / dnsmasq forwarding: {ratio:0.00}x (rounds: {string.Join(", ", ratios.Select(r => r.ToString("0.00", CultureInfo.InvariantCulture)))}); "
            + $"target >= {Target:0.0}x: {(ratio >= Target ? "met" : "NOT met")}");
    }

    Console.WriteLine();
    var sidecar = targets[1].Name;
    var lost = results.Sum(r => r.Run.Lost);
    var roundRatios = Enumerable.Range(1, rounds).Select(round =>
        results.Single(r => r.Round == round && r.Server == sidecar).Run.QueriesPerSecond / results.Single(r => r.Round == round && r.Server == dnsmasqName).Run.QueriesPerSecond);
    BenchResults.AtLeast("DnsRewrite", $"queries/s with {Rules} rules", Median(sidecar, r => r.Run.QueriesPerSecond), "queries/s",
        "dnsmasq forwarding", Median(dnsmasqName, r => r.Run.QueriesPerSecond), Target,
        $"dnsperf, {outstanding} in flight; median of {rounds} rounds of {seconds} s (round ratios {string.Join(", ", roundRatios.Select(r => r.ToString("0.00", CultureInfo.InvariantCulture)))}); {lost} queries lost in all");
    BenchResults.Info("DnsRewrite", "CPU a query", Median(sidecar, r => r.ServerMicroseconds), "us", "dnsmasq forwarding", Median(dnsmasqName, r => r.ServerMicroseconds),
        $"the upstream's {Median(sidecar, r => r.UpstreamMicroseconds):0.0} us a query of the sidecar's, {Median(dnsmasqName, r => r.UpstreamMicroseconds):0.0} us of dnsmasq's");
    BenchResults.Info("DnsRewrite", "average latency (dnsperf)", Median(sidecar, r => r.Run.AverageMilliseconds), "ms", "dnsmasq forwarding", Median(dnsmasqName, r => r.Run.AverageMilliseconds));
    if (compare is not null)
        BenchResults.Info("DnsRewrite", "queries/s, the compared build", Median(targets[2].Name, r => r.Run.QueriesPerSecond), "queries/s",
            "dnsmasq forwarding", Median(dnsmasqName, r => r.Run.QueriesPerSecond), compare);
    BenchResults.Info("DnsRewrite", "version of dnsmasq", 0, "", note: ToolVersion("dnsmasq", "--version", @"version (\S+)"));
    BenchResults.Info("DnsRewrite", "version of dnsperf", 0, "", note: ToolVersion("dnsperf", "-l 0 -s 127.0.0.1 -p 9 -d /dev/null", @"Version (\S+)"));
    BenchResults.Bars("DnsRewrite", $"queries per second with {Rules} rules", "queries/s",
        [.. targets.Select(server => (server.Name, Median(server.Name, r => r.Run.QueriesPerSecond)))]);
    return 0;
}
finally
{
    foreach (var server in started)
        server.Dispose();
    Directory.Delete(work, recursive: true);
}

int Option(string name, int fallback) =>
    args.SkipWhile(a => a != name).Skip(1).Select(value => int.Parse(value, CultureInfo.InvariantCulture)).DefaultIfEmpty(fallback).First();

async Task<Dnsperf> DnsperfAsync(int port, int duration)
{
    var start = new ProcessStartInfo("dnsperf", ["-s", "127.0.0.1", "-p", port.ToString(CultureInfo.InvariantCulture), "-d", Path.Combine(work, "queries.txt"),
        "-l", duration.ToString(CultureInfo.InvariantCulture), "-c", clients.ToString(CultureInfo.InvariantCulture), "-q", outstanding.ToString(CultureInfo.InvariantCulture)])
    {
        RedirectStandardOutput = true,
        RedirectStandardError = true,
    };
    using var process = Process.Start(start)!;
    var error = process.StandardError.ReadToEndAsync();
    var output = await process.StandardOutput.ReadToEndAsync();
    await process.WaitForExitAsync();
    return Dnsperf.Parse(output + await error);
}

// The first A record's address in the answer to name A, asked until the server answers (it may still be starting).
static async Task<string?> AskAsync(int port, string name)
{
    var query = new List<byte> { 0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0 };
    foreach (var label in name.Split('.'))
    {
        query.Add((byte)label.Length);
        query.AddRange(Encoding.ASCII.GetBytes(label));
    }
    query.AddRange([0, 0, 1, 0, 1]);
    var deadline = DateTime.UtcNow.AddSeconds(60);
    using var client = new UdpClient(AddressFamily.InterNetwork);
    client.Connect(IPAddress.Loopback, port);
    while (true)
    {
        await client.SendAsync(query.ToArray());
        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        try
        {
            var reply = (await client.ReceiveAsync(wait.Token)).Buffer;
            // The question is echoed as sent; an answer record with a compressed name then has 10 fixed bytes before its data.
            var answers = BinaryPrimitives.ReadUInt16BigEndian(reply.AsSpan(6));
            var position = query.Count + 2 + 10;
            return answers > 0 && reply.Length >= position + 4 ? new IPAddress(reply.AsSpan(position, 4)).ToString() : null;
        }
        catch (Exception exception) when (exception is OperationCanceledException or SocketException && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200);
        }
    }
}

// The version a tool prints, or "unknown".
static string ToolVersion(string file, string arguments, string pattern)
{
    try
    {
        using var process = Process.Start(new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var error = process.StandardError.ReadToEndAsync();
        var text = process.StandardOutput.ReadToEnd() + error.Result;
        process.WaitForExit();
        return Regex.Match(text, pattern) is { Success: true } match ? match.Groups[1].Value : "unknown";
    }
    catch (System.ComponentModel.Win32Exception)
    {
        return "unknown";
    }
}

static string LoadAverage() => File.ReadAllText("/proc/loadavg").Split(' ')[0];

// The "steal" column of /proc/stat's cpu line, in seconds (clock ticks of 1/100 s).

sealed record Result(int Round, string Server, Dnsperf Run, double ServerMicroseconds, double UpstreamMicroseconds, string Load, double Stolen);

/// <summary>What dnsperf printed at the end of a run.</summary>
sealed partial record Dnsperf(double QueriesPerSecond, long Completed, double CompletedPercent, long Lost, double AverageMilliseconds, double StdDevMilliseconds, string ResponseCodes)
{
    public static Dnsperf Parse(string output)
    {
        string Field(string label) =>
            Regex.Match(output, $@"^\s*{Regex.Escape(label)}:\s*(.+)$", RegexOptions.Multiline) is { Success: true } match
                ? match.Groups[1].Value.Trim()
                : throw new InvalidOperationException($"dnsperf printed no '{label}':\n{output}");
        double Number(string text) => double.Parse(FirstNumber().Match(text).Value, CultureInfo.InvariantCulture);
        var completed = Field("Queries completed");
        return new Dnsperf(
            Number(Field("Queries per second")),
            (long)Number(completed),
            double.Parse(Percent().Match(completed).Groups[1].Value, CultureInfo.InvariantCulture),
            (long)Number(Field("Queries lost")),
            Number(Field("Average Latency (s)")) * 1000,
            Number(Field("Latency StdDev (s)")) * 1000,
            Field("Response codes"));
    }

    [GeneratedRegex(@"[0-9]+(\.[0-9]+)?")]
    private static partial Regex FirstNumber();

    [GeneratedRegex(@"\(([0-9.]+)%\)")]
    private static partial Regex Percent();
}

/// <summary>A server process of the bench, its output kept for when it fails, its CPU time read from /proc.</summary>
sealed class Server : IDisposable
{
    private readonly Process process;
    private readonly StringBuilder output = new();

    private Server(string name, Process process) => (Name, this.process) = (name, process);

    public string Name { get; }

    public string Output
    {
        get
        {
            lock (output)
                return output.ToString();
        }
    }

    public static Server Start(string name, string file, IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
        var server = new Server(name, Process.Start(start)!);
        server.process.OutputDataReceived += (_, line) => server.Append(line.Data);
        server.process.ErrorDataReceived += (_, line) => server.Append(line.Data);
        server.process.BeginOutputReadLine();
        server.process.BeginErrorReadLine();
        return server;
    }

    private void Append(string? line)
    {
        if (line is null)
            return;
        lock (output)
            output.AppendLine(line);
    }

    /// <summary>User and system CPU of the process so far (proc_pid_stat(5) fields 14 and 15, in 1/100 s).</summary>
    public double CpuSeconds()
    {
        var stat = File.ReadAllText($"/proc/{process.Id}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
    }

    public void Dispose()
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
        }
        process.Dispose();
    }
}
