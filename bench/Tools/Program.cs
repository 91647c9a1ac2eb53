// bench/Tools: a user's tool through the proxy (issue 5, restated in issue 21). Each measurement beside its peers from
// the same run:
//   throughput  GET /bytes/1024 from the tool, wrk -t1 -c64, interleaved rounds: the tool directly, the proxy (signed-in
//               cookie), YARP's bare forwarder (bench/BareForwarder), JupyterHub's configurable-http-proxy and Debian's
//               nginx, wrk on core 0 and every server on core 1. Targets: >= 0.9x the bare forwarder's requests/s,
//               >= 2x configurable-http-proxy's, saturated added p99 within 1 ms of the bare forwarder's; nginx's ratio
//               reported as the limit.
//   rate        added latency at fixed rates below saturation (25, 50 and 75% of the bare forwarder's maximum), from an
//               open-loop generator (latency from each request's scheduled time): p50/p99 over direct, the proxy's p99
//               within 1 ms of the bare forwarder's.
//   gap         the orchestrator-launched proxy against copies of it started by the bench (same binary, environment
//               and core), to tell the orchestrator's cost from the bench's.
//   websockets  1,000 websockets through the proxy, an echo every 5 s each: errors and the proxy's memory.
//   spawn       the tool's own start and its start through the platform, interleaved; target overhead under 1 s.
// Only the processes this bench started (found from the AppHost's resources and the processes they started) are
// pinned, and every affinity and switch it changes is restored, even when it fails.
// Run: dotnet run -c Release --project bench/Tools [throughput|rate|gap|websockets|spawn|all]
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.RegularExpressions;
using Aspire.Hosting;
using DataWorkspace.Bench;
using DataWorkspace.TestSupport;

const string Bench = "tools";
var mode = args.FirstOrDefault() ?? "all";
var n = CultureInfo.InvariantCulture;
var profile = BenchResults.InSuite ? Profile.Suite : Profile.Full;
var benchClock = Stopwatch.StartNew();
Console.WriteLine($"Profile: {(BenchResults.InSuite ? "suite (bounded time)" : "full")}; load average {ProcessFacts.Read("/proc/loadavg").Trim()}");
var dataDirectory = Path.Combine(Path.GetTempPath(), "dw-bench-tools-" + Guid.NewGuid().ToString("N")[..8]);
var portalPort = Ports.Free();
Console.WriteLine($"Starting the platform (Local mode, Production settings, data in {dataDirectory}) ...");
var platform = await RunningPlatform.StartAsync<Projects.DataWorkspace_AppHost>(dataDirectory, portalPort, CancellationToken.None, testSettings: false);
Console.WriteLine($"  started after {benchClock.Elapsed.TotalSeconds:N0} s");
var peers = new List<Process>();
// Stopped by a signal (the suite's time limit), the peers go and the machine is put back as it was.
var machine = new MachineChanges().UndoOnSignal(() => { lock (peers) foreach (var peer in peers) Stop(peer); });

try
{
    using (var signIn = platform.Client()) await signIn.SignInAsync("tom.evans@partner.example");
    var signedIn = platform.Client();
    await signedIn.SignInAsync("tom.evans@partner.example");
    var userId = (await platform.CatalogueScalarAsync<string>("SELECT id FROM users WHERE email = 'tom.evans@partner.example'"))!;
    await platform.CatalogueScalarAsync<object>("INSERT INTO tools_permissions (user_id, source, granted_at, granted_by) VALUES ($1, 'Admin', now(), 'bench') ON CONFLICT DO NOTHING", userId);
    var host = $"sample-{Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(userId)))[..8]}";
    var toolAuthority = $"{host}.{platform.PortalUrl.Host}:{portalPort}";
    var toolUrl = new Uri($"http://{toolAuthority}/");
    var cookie = signedIn.Cookies.GetCookieHeader(platform.PortalUrl);

    // Opens the tool through the proxy and waits until it answers there; returns the time that took.
    async Task<TimeSpan> OpenAsync()
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            using var response = await signedIn.Http.GetAsync(toolUrl);
            if (response.StatusCode == HttpStatusCode.OK) return clock.Elapsed;
            if (response.StatusCode != HttpStatusCode.Accepted) throw new InvalidOperationException($"The tool answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
            if (clock.Elapsed > TimeSpan.FromMinutes(2)) throw new TimeoutException("The sample app did not start within 2 minutes");
            await Task.Delay(10);
        }
    }

    async Task StopAsync()
    {
        using var stop = await signedIn.Http.PostAsync("/api/v1/tools/sample/stop", new StringContent("{}", Encoding.UTF8, "application/json"));
        if (!stop.IsSuccessStatusCode) throw new InvalidOperationException($"Stopping the tool answered {(int)stop.StatusCode}: {await stop.Content.ReadAsStringAsync()}");
        // A stopped tool opened at once starts again, even while the proxy still holds its old address.
        await Task.Delay(TimeSpan.FromSeconds(1));
    }

    Console.WriteLine($"Starting the sample app for {host} ...");
    await OpenAsync();
    var address = (await platform.CatalogueScalarAsync<string>("SELECT address FROM tool_instances WHERE host = $1 AND state = 'Running'", host))!;
    var toolPid = int.Parse((await platform.CatalogueScalarAsync<string>("SELECT launcher_handle FROM tool_instances WHERE host = $1 AND state = 'Running'", host))!, n);
    var toolPort = new Uri(address).Port;
    var sampleCommand = ProcessFacts.CommandLine(toolPid);
    // The proxy is the process the orchestrator started for the "proxy" resource (`dotnet run --no-build`), or rather
    // its child running the proxy's own program: never found by name, which another platform on the machine shares.
    var proxyResourcePid = ResourcePid(platform.App, "proxy");
    var proxyPid = ProcessFacts.Tree(proxyResourcePid).FirstOrDefault(pid => ProcessFacts.CommandLine(pid) is [var program, ..] && Path.GetFileName(program) == "DataWorkspace.Proxy",
        proxyResourcePid);
    // The orchestrator runs detached (its parent is init), so this bench's processes are its own tree and the
    // orchestrator's: the first ancestor of the proxy's process whose parent is init.
    var orchestratorPid = proxyResourcePid;
    while (ProcessFacts.ParentOf(orchestratorPid) is > 1 and var parent) orchestratorPid = parent;
    List<int> Started() => [.. ProcessFacts.Tree(Environment.ProcessId), .. ProcessFacts.Tree(orchestratorPid)];
    if (!Started().Contains(toolPid)) throw new InvalidOperationException($"The tool's process {toolPid} is not one this bench's platform started");
    Console.WriteLine($"  the tool is at {address} (pid {toolPid}); the proxy resource is pid {proxyResourcePid} ({string.Join(' ', ProcessFacts.CommandLine(proxyResourcePid).Take(3))} ...), " +
        $"the proxy's program pid {proxyPid}; the orchestrator pid {orchestratorPid}");

    if (mode == "serve")
    {
        Console.WriteLine($"SERVE proxy: wrk -t1 -c64 -d10s --latency -H 'Host: {toolAuthority}' -H 'Cookie: {cookie}' http://127.0.0.1:{portalPort}/bytes/1024");
        Console.WriteLine($"SERVE direct: wrk -t1 -c64 -d10s --latency {address}/bytes/1024");
        Console.WriteLine($"SERVE pids: proxy {proxyPid} tool {toolPid}");
        await Task.Delay(TimeSpan.FromMinutes(90));
    }

    var proxyTarget = new Target("proxy", $"http://127.0.0.1:{portalPort}", toolAuthority, [$"Cookie: {cookie}"], proxyPid);
    var directTarget = new Target("direct", address, $"127.0.0.1:{toolPort}", [], toolPid);
    // The servers share core 1; everything else this bench started (itself with its load generator, the orchestrator,
    // the web app, PostgreSQL) runs on core 0 with wrk. Other processes on the machine are left as they are.
    var servers = new List<int>();
    var started = new List<Target>();
    void PinServer(int pid)
    {
        servers.AddRange(ProcessFacts.Tree(pid));
        PinAll();
    }

    void PinAll()
    {
        foreach (var pid in Started())
            machine.Pin(pid, servers.Contains(pid) ? "1" : "0");
    }

    var pinned = mode is "all" or "throughput" or "rate" or "gap";
    if (pinned)
    {
        // Scheduler autogroups share a core between sessions before threads: the proxy and the tool are in the
        // orchestrator's session, the peers in this one. Off for the run, so every server is scheduled alike.
        if (machine.SetSwitch("/proc/sys/kernel/sched_autogroup_enabled", "0")) Console.WriteLine("  scheduler autogroups off for the run (restored after)");
        else Console.WriteLine("  WARNING: could not turn scheduler autogroups off: the proxy and its peers are scheduled differently, compare with care");
        servers.AddRange(ProcessFacts.Tree(proxyResourcePid));
        servers.AddRange(ProcessFacts.Tree(toolPid));
        PinAll();
    }

    Dictionary<string, List<WrkResult>>? throughput = null;
    if (mode is "all" or "throughput" or "rate") throughput = await ThroughputAsync(onlyBare: mode == "rate");
    if (mode is "all" or "rate") await RateAsync(throughput!);
    if (mode == "gap" || (mode == "all" && Remaining() > profile.GapNeeds)) await GapAsync();
    else if (mode == "all") Console.WriteLine($"\n== Gap: skipped, {Remaining().TotalSeconds:N0} s left of the suite's budget ==");
    if (pinned)
    {
        foreach (var peer in peers) Stop(peer);
        peers.Clear();
        machine.Dispose();
    }

    if (mode is "all" or "websockets") await WebSocketsAsync();
    if (mode is "all" or "spawn") await SpawnAsync();
    Console.WriteLine($"\nDone after {benchClock.Elapsed.TotalSeconds:N0} s (platform start included).");

    // Started through taskset on the given cores: a child would otherwise inherit this process's core 0, and .NET sizes
    // its thread pool and socket engines by the cores it may use when it starts.
    Process StartPeer(ProcessStartInfo program, string cores = "0-1")
    {
        var start = new ProcessStartInfo("taskset", ["-c", cores, program.FileName, .. program.ArgumentList])
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = program.WorkingDirectory,
        };
        start.Environment.Clear();
        foreach (var (key, value) in program.Environment) start.Environment[key] = value;
        var process = Process.Start(start) ?? throw new InvalidOperationException($"{program.FileName} did not start");
        // Drained as the orchestrator drains its services' output.
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, e) => { if (e.Data is { Length: > 0 }) Console.WriteLine($"  [{Path.GetFileName(program.FileName)}] {e.Data}"); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        lock (peers) peers.Add(process);
        return process;
    }

    async Task WaitUntilAnswersAsync(string url, Process process)
    {
        using var probe = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        for (var clock = Stopwatch.StartNew(); ; await Task.Delay(50))
        {
            if (process.HasExited) throw new InvalidOperationException($"{process.StartInfo.FileName} exited ({process.ExitCode}) before it answered");
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, url);
                using var response = await probe.SendAsync(request);
                return;
            }
            catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException)
            {
                if (clock.Elapsed > TimeSpan.FromSeconds(30)) throw new TimeoutException($"{url} did not answer within 30 s: {exception.Message}");
            }
        }
    }

    async Task<Dictionary<string, List<WrkResult>>> ThroughputAsync(bool onlyBare)
    {
        Console.WriteLine();
        Console.WriteLine($"[{benchClock.Elapsed.TotalSeconds:N0} s]");
        Console.WriteLine("== Throughput: GET /bytes/1024, wrk -t1 -c64, wrk on core 0, servers on core 1 ==");
        var targets = new List<Target> { directTarget, proxyTarget };

        // YARP's forwarder alone, started as the orchestrator starts the proxy (on both cores, then pinned) and with
        // the running proxy's GC settings, so what separates the two is the platform's own work per request.
        var proxyGcSettings = ProcessFacts.Environment(proxyPid).Where(e => e.Key.StartsWith("DOTNET_GC", StringComparison.Ordinal)).ToList();
        ProcessStartInfo BareStart(int port)
        {
            var start = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "BareForwarder", "bin",
                new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name, "net10.0", "BareForwarder"));
            foreach (var (name, value) in proxyGcSettings) start.Environment[name] = value;
            start.Environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}";
            return start;
        }

        var barePort = Ports.Free();
        var bareStart = BareStart(barePort);
        bareStart.Environment["BARE_FORWARDER_TARGET"] = address;
        var bare = StartPeer(bareStart);
        targets.Add(new Target("bare forwarder", $"http://127.0.0.1:{barePort}", $"127.0.0.1:{barePort}", [], bare.Id));
        await WaitUntilAnswersAsync($"http://127.0.0.1:{barePort}/bytes/1", bare);

        if (!onlyBare)
        {
            // JupyterHub's proxy as JupyterHub runs it: Node, one route (the default target) to the tool.
            var chpScript = Path.Combine(RepositoryRoot(), "bench", "peers", "node_modules", "configurable-http-proxy", "bin", "configurable-http-proxy");
            if (!File.Exists(chpScript)) await RunAsync("npm", "ci", "--prefix", Path.Combine(RepositoryRoot(), "bench", "peers"));
            var chpPort = Ports.Free();
            var chpStart = new ProcessStartInfo("node", [chpScript, "--ip", "127.0.0.1", "--port", chpPort.ToString(n), "--api-ip", "127.0.0.1",
                "--api-port", Ports.Free().ToString(n), "--default-target", $"http://127.0.0.1:{toolPort}", "--log-level", "warn"]);
            chpStart.Environment["CONFIGPROXY_AUTH_TOKEN"] = Guid.NewGuid().ToString("N");
            var chp = StartPeer(chpStart);
            targets.Add(new Target("configurable-http-proxy", $"http://127.0.0.1:{chpPort}", $"127.0.0.1:{chpPort}", [], chp.Id));
            await WaitUntilAnswersAsync($"http://127.0.0.1:{chpPort}/bytes/1", chp);

            // Debian's nginx, set up as a fair peer: one worker, upstream keep-alive, no access log.
            var nginxPort = Ports.Free();
            var prefix = Path.Combine(dataDirectory, "nginx");
            Directory.CreateDirectory(Path.Combine(prefix, "logs"));
            await File.WriteAllTextAsync(Path.Combine(prefix, "nginx.conf"), $$"""
                worker_processes 1;
                pid {{prefix}}/nginx.pid;
                error_log {{prefix}}/logs/error.log warn;
                events { worker_connections 4096; }
                http {
                  access_log off;
                  keepalive_requests 1000000;
                  upstream tool { server 127.0.0.1:{{toolPort}}; keepalive 64; keepalive_requests 1000000; }
                  server {
                    listen 127.0.0.1:{{nginxPort}};
                    location / { proxy_pass http://tool; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header Host $host; }
                  }
                }
                """);
            var nginx = StartPeer(new ProcessStartInfo("nginx", ["-p", prefix, "-c", Path.Combine(prefix, "nginx.conf"), "-g", "daemon off;"]));
            targets.Add(new Target("nginx", $"http://127.0.0.1:{nginxPort}", $"127.0.0.1:{nginxPort}", [], nginx.Id));
            await WaitUntilAnswersAsync($"http://127.0.0.1:{nginxPort}/bytes/1", nginx);

            if (profile.KestrelAlone)
            {
                // What serving a request costs any proxy on Kestrel before it forwards anything.
                var kestrelPort = Ports.Free();
                var kestrelStart = BareStart(kestrelPort);
                kestrelStart.Environment["BARE_FORWARDER_ANSWER_BYTES"] = "1024";
                var kestrel = StartPeer(kestrelStart);
                targets.Add(new Target("kestrel alone", $"http://127.0.0.1:{kestrelPort}", $"127.0.0.1:{kestrelPort}", [], kestrel.Id));
                await WaitUntilAnswersAsync($"http://127.0.0.1:{kestrelPort}/bytes/1", kestrel);
            }
        }

        foreach (var target in targets.Skip(2)) PinServer(target.Pid);
        Console.WriteLine($"  pinned to core 1: {string.Join(", ", targets.Select(t => $"{t.Name} ({string.Join('+', ProcessFacts.Tree(t.Pid))})"))}; {Started().Count(pid => !servers.Contains(pid))} other processes of this bench and its platform to core 0");

        Console.WriteLine($"Warming up ({profile.WarmupSeconds} s each, .NET peers {profile.DotnetWarmupSeconds} s; then the proxy in {profile.ProxyRoundSeconds} s rounds until its JIT is idle) ...");
        foreach (var target in targets)
            await WrkAsync(target, target.Name is "bare forwarder" or "kestrel alone" ? profile.DotnetWarmupSeconds : profile.WarmupSeconds);
        await WarmUntilJitIdleAsync(proxyTarget);
        started.AddRange(targets);

        var results = targets.ToDictionary(t => t.Name, _ => new List<WrkResult>());
        for (var round = 1; round <= profile.Rounds; round++)
        {
            foreach (var target in targets)
            {
                var result = await WrkAsync(target, profile.RoundSeconds, measureCpu: true);
                results[target.Name].Add(result);
                Console.WriteLine($"  round {round} {target.Name,-24} {result.RequestsPerSecond,9:N0} req/s  p50 {result.P50Ms,6:N3} ms  p99 {result.P99Ms,6:N3} ms  " +
                    $"{(target.Name == "direct" ? "tool" : target.Name)} CPU {result.CpuMicrosecondsPerRequest:N1} us/request, {result.SwitchesPerRequest:N2} context switches/request");
            }
        }

        if (onlyBare) return results;
        var rps = results.ToDictionary(r => r.Key, r => Median(r.Value.Select(v => v.RequestsPerSecond)));
        var p99 = results.ToDictionary(r => r.Key, r => Median(r.Value.Select(v => v.P99Ms)));
        var cpu = results.ToDictionary(r => r.Key, r => Median(r.Value.Select(v => v.CpuMicrosecondsPerRequest)));
        string Spread(string name) => $"rounds {string.Join(", ", results[name].Select(r => r.RequestsPerSecond.ToString("N0", n)))}; {cpu[name]:N1} us CPU and " +
            $"{Median(results[name].Select(r => r.SwitchesPerRequest)):N2} context switches a request";
        Console.WriteLine($"Medians of {profile.Rounds}: {string.Join(", ", rps.Select(r => $"{r.Key} {r.Value:N0} req/s"))}");
        BenchResults.AtLeast(Bench, "proxy req/s vs bare forwarder", rps["proxy"], "req/s", "YARP bare forwarder", rps["bare forwarder"], 0.9,
            $"proxy {Spread("proxy")}; bare forwarder {Spread("bare forwarder")}");
        BenchResults.AtLeast(Bench, "proxy req/s vs configurable-http-proxy", rps["proxy"], "req/s", "configurable-http-proxy 5.3.0", rps["configurable-http-proxy"], 2,
            $"configurable-http-proxy {Spread("configurable-http-proxy")}");
        BenchResults.Info(Bench, "proxy req/s vs nginx (the limit)", rps["proxy"], "req/s", "nginx", rps["nginx"], $"nginx {Spread("nginx")}");
        BenchResults.Info(Bench, "bare forwarder req/s vs nginx", rps["bare forwarder"], "req/s", "nginx", rps["nginx"]);
        BenchResults.Info(Bench, "direct to the tool req/s", rps["direct"], "req/s", note: $"tool {Spread("direct")}");
        // CPU a request holds steadier than requests/s on a shared machine: the proxy's own cost over the forwarder's.
        BenchResults.Info(Bench, "CPU a request, proxy vs bare forwarder", cpu["proxy"], "us", "YARP bare forwarder", cpu["bare forwarder"],
            $"nginx {cpu["nginx"]:N1} us, configurable-http-proxy {cpu["configurable-http-proxy"]:N1} us, the tool {cpu["direct"]:N1} us");
        if (rps.ContainsKey("kestrel alone"))
            BenchResults.Info(Bench, "Kestrel answering 1 KB itself, CPU a request", cpu["kestrel alone"], "us", "nginx proxying", cpu["nginx"], $"{rps["kestrel alone"]:N0} req/s");
        var addedProxy = p99["proxy"] - p99["direct"];
        var addedBare = p99["bare forwarder"] - p99["direct"];
        BenchResults.Record(new Figure(Bench, "saturated added p99, proxy vs bare forwarder", addedProxy, "ms", "YARP bare forwarder", addedBare,
            "within 1 ms of the peer", addedProxy - addedBare <= 1,
            $"p99 over direct at full load (restates the throughput gap); nginx {p99["nginx"] - p99["direct"]:N2} ms, configurable-http-proxy {p99["configurable-http-proxy"] - p99["direct"]:N2} ms"));
        BenchResults.Bars(Bench, "requests per second per peer (1 KB, 64 connections, one core)", "req/s", [.. rps.Select(r => (r.Key, r.Value))]);
        return results;
    }

    async Task WarmUntilJitIdleAsync(Target target)
    {
        for (var round = 1; round <= profile.ProxyMaxRounds; round++)
        {
            var before = ProcessFacts.ThreadCpuSeconds(target.Pid, ".NET Tiered Com");
            await WrkAsync(target, profile.ProxyRoundSeconds);
            var share = (ProcessFacts.ThreadCpuSeconds(target.Pid, ".NET Tiered Com") - before) / profile.ProxyRoundSeconds;
            Console.WriteLine($"  {target.Name} warm-up round {round}: JIT {share * 100:N1}% of a core");
            // The compiler's thread exits when idle and a new one starts, so a round's share can read negative.
            if (round >= profile.ProxyMinRounds && share is >= 0 and < 0.02) break;
        }
    }

    async Task RateAsync(Dictionary<string, List<WrkResult>> measured)
    {
        var bareMax = Median(measured["bare forwarder"].Select(r => r.RequestsPerSecond));
        var chpMax = measured.TryGetValue("configurable-http-proxy", out var chpRuns) ? Median(chpRuns.Select(r => r.RequestsPerSecond)) : 0;
        var fractions = new[] { 0.25, 0.5, 0.75 };
        Console.WriteLine();
        Console.WriteLine($"[{benchClock.Elapsed.TotalSeconds:N0} s]");
        Console.WriteLine($"== Added latency at fixed rates: {string.Join(", ", fractions.Select(f => $"{f:P0}"))} of the bare forwarder's {bareMax:N0} req/s, " +
            $"open-loop, 64 keep-alive connections, {profile.RateSeconds} s x {profile.RateRounds} per peer and rate, generator on core 0 ==");
        var all = new List<Target> { directTarget, proxyTarget };
        all.AddRange(started.Where(t => t.Name is "bare forwarder" or "nginx" or "configurable-http-proxy"));
        var latencies = new Dictionary<(double Fraction, string Peer), List<double>>();
        var overTime = new Dictionary<string, IReadOnlyList<(double, double)>>();
        var fellBehind = new List<string>();
        for (var round = 1; round <= profile.RateRounds; round++)
        {
            foreach (var fraction in fractions)
            {
                var rate = fraction * bareMax;
                foreach (var target in all)
                {
                    // Beyond its own maximum a peer's queue only grows; its figure there would say nothing new.
                    if (target.Name == "configurable-http-proxy" && rate > 0.8 * chpMax) continue;
                    var uri = new Uri(target.BaseUrl);
                    var request = ConstantRate.Get("/bytes/1024", target.Host, target.Headers);
                    var result = await ConstantRate.RunAsync(new IPEndPoint(IPAddress.Loopback, uri.Port), request, rate, TimeSpan.FromSeconds(profile.RateSeconds));
                    if (result.Errors > 0) throw new InvalidOperationException($"{target.Name} at {rate:N0} req/s: {result.Errors} failed answers");
                    var key = (fraction, target.Name);
                    if (!latencies.TryGetValue(key, out var list)) latencies[key] = list = [];
                    list.AddRange(result.SortedLatenciesMs);
                    if (fraction == fractions[^1]) overTime[target.Name] = result.P99PerSecond;
                    if (result.FellBehind) fellBehind.Add($"{target.Name} at {rate:N0} req/s (schedule late by {result.PacerLateP99Ms:N1} ms at p99)");
                    Console.WriteLine($"  round {round} {fraction,4:P0} {rate,7:N0} req/s {target.Name,-24} p50 {result.Percentile(50),7:N3} ms  p99 {result.Percentile(99),7:N3} ms  " +
                        $"(sent {result.AchievedRate:N0}/s; schedule late p99 {result.PacerLateP99Ms:N2} ms)");
                }
            }
        }

        double Pct(double fraction, string peer, double p)
        {
            var sorted = latencies[(fraction, peer)].Order().ToArray();
            return sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p / 100 * sorted.Length) - 1)];
        }

        var p50Lines = new Dictionary<string, List<(double, double)>>();
        var p99Lines = new Dictionary<string, List<(double, double)>>();
        foreach (var fraction in fractions)
        {
            var rate = fraction * bareMax;
            var (direct50, direct99) = (Pct(fraction, "direct", 50), Pct(fraction, "direct", 99));
            var added = all.Skip(1).Where(t => latencies.ContainsKey((fraction, t.Name)))
                .ToDictionary(t => t.Name, t => (P50: Pct(fraction, t.Name, 50) - direct50, P99: Pct(fraction, t.Name, 99) - direct99));
            foreach (var (peer, value) in added)
            {
                (p50Lines.TryGetValue(peer, out var l50) ? l50 : p50Lines[peer] = []).Add((rate, value.P50));
                (p99Lines.TryGetValue(peer, out var l99) ? l99 : p99Lines[peer] = []).Add((rate, value.P99));
            }

            var label = $"{fraction:P0} of the bare forwarder's max ({rate:N0} req/s)";
            var others = string.Join("; ", added.Where(a => a.Key != "proxy").Select(a => $"{a.Key} p50 +{a.Value.P50:N2} ms, p99 +{a.Value.P99:N2} ms"));
            BenchResults.Record(new Figure(Bench, $"added p99 at {label}, proxy vs bare forwarder", added["proxy"].P99, "ms", "YARP bare forwarder", added["bare forwarder"].P99,
                "within 1 ms of the peer", added["proxy"].P99 - added["bare forwarder"].P99 <= 1,
                $"over direct (p50 {direct50:N2} ms, p99 {direct99:N2} ms); proxy p50 +{added["proxy"].P50:N2} ms; {others}"));
            BenchResults.Info(Bench, $"added p50 at {label}, proxy", added["proxy"].P50, "ms", "YARP bare forwarder", added["bare forwarder"].P50);
            if (added.TryGetValue("nginx", out var nginxAdded))
                BenchResults.Info(Bench, $"added p99 at {label}, nginx", nginxAdded.P99, "ms", "YARP bare forwarder", added["bare forwarder"].P99);
        }

        foreach (var (peer, points) in p99Lines) BenchResults.Line(Bench, "added p99 over direct vs request rate", peer, "requests/s", "ms", points);
        foreach (var (peer, points) in p50Lines) BenchResults.Line(Bench, "added p50 over direct vs request rate", peer, "requests/s", "ms", points);
        foreach (var (peer, points) in overTime) BenchResults.Line(Bench, $"p99 per second at 75% of the bare forwarder's max", peer, "s", "ms", points);
        Console.WriteLine(fellBehind.Count == 0 ? "  the generator kept to its schedule in every run (p99 under 2 ms late)"
            : $"  WARNING: the generator fell behind its schedule in: {string.Join("; ", fellBehind)} (those latencies include its own delay)");
        BenchResults.Info(Bench, "constant-rate runs where the generator fell behind", fellBehind.Count, "runs", note: fellBehind.Count == 0 ? null : string.Join("; ", fellBehind));
    }

    async Task GapAsync()
    {
        // The proxy as the orchestrator runs it against copies this bench starts with the same program, arguments,
        // working directory and environment (only the listening address differs), output drained the same way:
        //   "copy": started on both cores and pinned afterwards, as the orchestrator-launched proxy is;
        //   "copy pinned at start": started on core 1, so .NET sizes itself for one processor (thread pool, socket
        //   engines), as a copy started with taskset from a shell does.
        Console.WriteLine();
        Console.WriteLine($"[{benchClock.Elapsed.TotalSeconds:N0} s]");
        Console.WriteLine($"== Gap: the orchestrator-launched proxy against copies of it started by the bench, {profile.GapRounds} interleaved rounds of {profile.GapSeconds} s ==");
        var command = ProcessFacts.CommandLine(proxyPid);
        var environment = ProcessFacts.Environment(proxyPid);
        var workingDirectory = new DirectoryInfo($"/proc/{proxyPid}/cwd").ResolveLinkTarget(true)?.FullName ?? Environment.CurrentDirectory;
        var differences = environment.Where(e => !string.Equals(Environment.GetEnvironmentVariable(e.Key), e.Value, StringComparison.Ordinal))
            .Select(e => e.Key).Where(k => k.StartsWith("DOTNET_", StringComparison.Ordinal) || k.StartsWith("OTEL_", StringComparison.Ordinal) || k.StartsWith("ASPNETCORE_", StringComparison.Ordinal) || k.StartsWith("Logging", StringComparison.OrdinalIgnoreCase))
            .Order();
        // Values that carry a key (the dashboard's OTLP header) are named, not printed.
        Console.WriteLine($"  the orchestrator gives the proxy: {string.Join(", ", differences.Select(k => k.StartsWith("OTEL_EXPORTER_OTLP_HEADERS", StringComparison.Ordinal) ? $"{k}=(set)" : $"{k}={environment[k]}"))}");
        Console.WriteLine($"  the orchestrator's proxy: parent {ProcessFacts.CommandLine(ProcessFacts.ParentOf(proxyPid)).FirstOrDefault()}, cgroups {Cgroups(proxyPid)}");
        async Task<Target> CopyAsync(string name, bool pinnedAtStart)
        {
            var port = Ports.Free();
            var start = new ProcessStartInfo(command[0], command[1..]) { WorkingDirectory = workingDirectory };
            start.Environment.Clear();
            foreach (var (key, value) in environment) start.Environment[key] = value;
            foreach (var key in new[] { "HTTP_PORTS", "HTTPS_PORTS", "ASPNETCORE_HTTP_PORTS", "ASPNETCORE_HTTPS_PORTS" }) start.Environment.Remove(key);
            start.Environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}";
            var process = StartPeer(start, pinnedAtStart ? "1" : "0-1");
            await WaitUntilAnswersAsync($"http://127.0.0.1:{port}/healthcheck", process);
            PinServer(process.Id);
            return new Target(name, $"http://127.0.0.1:{port}", toolAuthority, [$"Cookie: {cookie}"], process.Id);
        }

        var targets = new List<Target> { proxyTarget, await CopyAsync("copy", false), await CopyAsync("copy pinned at start", true) };
        if (args.Contains("--history"))
        {
            // The orchestrator's proxy forwarded the portal's pages (sign-in, the tool's start) before the tool's
            // requests; a copy that did the same first tells whether that history is the difference.
            var withHistory = await CopyAsync("copy after portal pages", false);
            var portalHost = $"{platform.PortalUrl.Host}:{new Uri(withHistory.BaseUrl).Port}";
            var portal = await Wrk.RunAsync(withHistory.BaseUrl + "/", [$"Host: {portalHost}", $"Cookie: {cookie}"], 20);
            Console.WriteLine($"  copy after portal pages: {portal.Requests:N0} portal pages first ({portal.RequestsPerSecond:N0}/s)");
            targets.Add(withHistory);
        }
        foreach (var target in mode == "gap" ? targets : targets.Skip(1)) await WarmUntilJitIdleAsync(target);
        foreach (var target in targets) Console.WriteLine($"  {target.Name}: pid {target.Pid}, {ThreadCount(target.Pid)} threads, cgroups {Cgroups(target.Pid)}");
        var results = targets.ToDictionary(t => t.Name, _ => new List<WrkResult>());
        for (var round = 1; round <= profile.GapRounds; round++)
        {
            foreach (var target in targets)
            {
                var result = await WrkAsync(target, profile.GapSeconds, measureCpu: true);
                results[target.Name].Add(result);
                Console.WriteLine($"  round {round} {target.Name,-22} {result.RequestsPerSecond,9:N0} req/s  p99 {result.P99Ms,6:N3} ms  CPU {result.CpuMicrosecondsPerRequest:N1} us/request  {result.SwitchesPerRequest:N2} context switches/request");
            }
        }

        var rps = results.ToDictionary(r => r.Key, r => Median(r.Value.Select(v => v.RequestsPerSecond)));
        string Detail(string name) => $"{name}: rounds {string.Join(", ", results[name].Select(r => r.RequestsPerSecond.ToString("N0", n)))}; " +
            $"{Median(results[name].Select(r => r.CpuMicrosecondsPerRequest)):N1} us CPU and {Median(results[name].Select(r => r.SwitchesPerRequest)):N2} context switches a request; p99 {Median(results[name].Select(r => r.P99Ms)):N2} ms; {ThreadCount(targets.First(t => t.Name == name).Pid)} threads";
        BenchResults.Info(Bench, "orchestrator-launched proxy req/s vs a copy started the same way by the bench", rps["proxy"], "req/s", "copy", rps["copy"], $"{Detail("proxy")} | {Detail("copy")}");
        BenchResults.Info(Bench, "copy pinned at start req/s vs a copy pinned after start", rps["copy pinned at start"], "req/s", "copy", rps["copy"], Detail("copy pinned at start"));
    }

    async Task WebSocketsAsync()
    {
        const int Connections = 1000;
        var hold = TimeSpan.FromSeconds(profile.WebSocketSeconds);
        Console.WriteLine();
        Console.WriteLine($"[{benchClock.Elapsed.TotalSeconds:N0} s]");
        Console.WriteLine($"== WebSockets: {Connections:N0} connections through the proxy to the tool's /ws, held {hold.TotalSeconds:0} s, an echo every 5 s each ==");
        var rssBefore = ProcessFacts.RssMb(proxyPid);
        Console.WriteLine($"  RSS before: proxy {rssBefore:N0} MB, tool {ProcessFacts.RssMb(toolPid):N0} MB");
        using var invoker = new HttpMessageInvoker(new SocketsHttpHandler { ConnectCallback = PortalClient.ConnectToLoopbackAsync, UseProxy = false });
        var sockets = new List<ClientWebSocket>();
        var errors = 0;
        var echoes = 0L;
        var clock = Stopwatch.StartNew();
        foreach (var batch in Enumerable.Range(0, Connections).Chunk(50))
        {
            var opened = await Task.WhenAll(batch.Select(async _ =>
            {
                var socket = new ClientWebSocket();
                socket.Options.SetRequestHeader("Origin", $"http://{toolAuthority}");
                socket.Options.SetRequestHeader("Cookie", cookie);
                try
                {
                    await socket.ConnectAsync(new Uri($"ws://{toolAuthority}/ws"), invoker, CancellationToken.None);
                    return socket;
                }
                catch (Exception exception) when (exception is WebSocketException or HttpRequestException)
                {
                    Interlocked.Increment(ref errors);
                    Console.WriteLine($"  connect failed: {exception.Message}");
                    socket.Dispose();
                    return null;
                }
            }));
            sockets.AddRange(opened.OfType<ClientWebSocket>());
        }

        var openSeconds = clock.Elapsed.TotalSeconds;
        Console.WriteLine($"  {sockets.Count:N0} open after {openSeconds:N1} s; RSS proxy {ProcessFacts.RssMb(proxyPid):N0} MB, tool {ProcessFacts.RssMb(toolPid):N0} MB");
        var until = Stopwatch.GetTimestamp() + (long)(hold.TotalSeconds * Stopwatch.Frequency);
        var peakProxy = 0.0;
        var sampler = Task.Run(async () =>
        {
            while (Stopwatch.GetTimestamp() < until) { peakProxy = Math.Max(peakProxy, ProcessFacts.RssMb(proxyPid)); await Task.Delay(1000); }
        });
        await Task.WhenAll(sockets.Select(async (socket, index) =>
        {
            var buffer = new byte[64];
            await Task.Delay(index * 5000 / Math.Max(1, sockets.Count)); // spread the echoes over the 5 s
            while (Stopwatch.GetTimestamp() < until)
            {
                try
                {
                    var message = Encoding.ASCII.GetBytes($"ping {index}");
                    await socket.SendAsync(message, WebSocketMessageType.Text, true, CancellationToken.None);
                    var received = await socket.ReceiveAsync(buffer, CancellationToken.None);
                    if (received.Count != message.Length) Interlocked.Increment(ref errors);
                    else Interlocked.Increment(ref echoes);
                }
                catch (Exception exception) when (exception is WebSocketException or IOException)
                {
                    Interlocked.Increment(ref errors);
                    return;
                }

                await Task.Delay(5000);
            }
        }));
        await sampler;
        var stillOpen = sockets.Count(s => s.State == WebSocketState.Open);
        Console.WriteLine($"  after {hold.TotalSeconds:0} s: {stillOpen:N0} still open, {echoes:N0} echoes, {errors} errors");
        await Task.WhenAll(sockets.Select(async socket =>
        {
            try { await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None); } catch (WebSocketException) { }
            socket.Dispose();
        }));
        await Task.Delay(2000);
        var rssAfter = ProcessFacts.RssMb(proxyPid);
        BenchResults.Under(Bench, $"websocket errors, {Connections:N0} held {hold.TotalSeconds:0} s", errors + (Connections - stillOpen), "errors", 1,
            $"{sockets.Count:N0} opened in {openSeconds:N1} s, {stillOpen:N0} open at the end, {echoes:N0} echoes");
        BenchResults.Info(Bench, "proxy RSS holding the websockets (peak)", peakProxy, "MB", "proxy RSS before", rssBefore, $"after closing them: {rssAfter:N0} MB");
    }

    async Task SpawnAsync()
    {
        var runs = profile.SpawnRuns;
        Console.WriteLine();
        Console.WriteLine($"[{benchClock.Elapsed.TotalSeconds:N0} s]");
        Console.WriteLine($"== Spawn: the app's own start and its start through the platform, interleaved, {runs} of each ==");
        var own = new List<double>();
        var through = new List<double>();
        using var probe = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        for (var run = 0; run < runs; run++)
        {
            // The app's own start: the same command with PORT, polled every 10 ms until it answers.
            var port = Ports.Free();
            var start = new ProcessStartInfo(sampleCommand[0]) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var argument in sampleCommand.Skip(1)) start.ArgumentList.Add(argument);
            start.Environment["PORT"] = port.ToString(n);
            var clock = Stopwatch.StartNew();
            using (var process = Process.Start(start)!)
            {
                process.OutputDataReceived += (_, _) => { };
                process.ErrorDataReceived += (_, _) => { };
                process.BeginOutputReadLine();
                process.BeginErrorReadLine();
                while (true)
                {
                    try
                    {
                        using var response = await probe.GetAsync($"http://127.0.0.1:{port}/health");
                        break;
                    }
                    catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException)
                    {
                        await Task.Delay(10);
                    }
                }

                own.Add(clock.Elapsed.TotalMilliseconds);
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }

            // Then through the platform: stop the tool, open it through the proxy, poll every 10 ms until the first 200.
            await StopAsync();
            through.Add((await OpenAsync()).TotalMilliseconds);
            Console.WriteLine($"  run {run + 1}: alone {own[^1]:N0} ms, through the platform {through[^1]:N0} ms");
        }

        var (ownMedian, throughMedian) = (Median(own), Median(through));
        var overhead = throughMedian - ownMedian;
        BenchResults.Under(Bench, "spawn overhead (median through the platform - median alone)", overhead, "ms", 1000,
            $"alone {ownMedian:N0} ms ({own.Min():N0}-{own.Max():N0}), through the platform {throughMedian:N0} ms ({through.Min():N0}-{through.Max():N0}), {runs} interleaved pairs");
        BenchResults.Info(Bench, "spawn through the platform, median", throughMedian, "ms", "the app alone", ownMedian,
            $"through {through.Min():N0}-{through.Max():N0} ms; alone {own.Min():N0}-{own.Max():N0} ms");
    }

    // Every server: wrk on core 0; a run with a failed answer stops the bench after a short run that prints it.
    async Task<WrkResult> WrkAsync(Target target, int seconds, bool measureCpu = false)
    {
        var pids = ProcessFacts.Tree(target.Pid);
        var cpuBefore = ProcessFacts.CpuSeconds(pids);
        var switchesBefore = ProcessFacts.ContextSwitches(pids);
        var result = await Wrk.RunAsync(target.BaseUrl + "/bytes/1024", [$"Host: {target.Host}", .. target.Headers], seconds);
        return measureCpu ? result with
        {
            CpuMicrosecondsPerRequest = (ProcessFacts.CpuSeconds(pids) - cpuBefore) * 1e6 / result.Requests,
            SwitchesPerRequest = (double)(ProcessFacts.ContextSwitches(pids) - switchesBefore) / result.Requests,
        } : result;
    }

    TimeSpan Remaining() => profile.Budget - benchClock.Elapsed;
}
finally
{
    foreach (var peer in peers) Stop(peer);
    machine.Dispose();
    await platform.DisposeAsync();
    TestDirectories.Delete(dataDirectory);
}

static void Stop(Process process)
{
    try
    {
        if (!process.HasExited) process.Kill(entireProcessTree: true);
        process.WaitForExit(5000);
    }
    catch (InvalidOperationException)
    {
    }
}

// The process the orchestrator started for a resource, from the resource's state (the "executable.pid" property).
static int ResourcePid(DistributedApplication app, string resource)
{
    if (!app.ResourceNotifications.TryGetCurrentState(resource, out var state)) throw new InvalidOperationException($"No state for the {resource} resource");
    var pid = state.Snapshot.Properties.FirstOrDefault(p => p.Name == "executable.pid")?.Value;
    return pid is null ? throw new InvalidOperationException($"The {resource} resource has no process id") : Convert.ToInt32(pid, CultureInfo.InvariantCulture);
}

static string RepositoryRoot()
{
    for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        if (File.Exists(Path.Combine(directory.FullName, "bench", "peers", "package.json"))) return directory.FullName;
    throw new InvalidOperationException("bench/peers/package.json not found above " + AppContext.BaseDirectory);
}

static async Task RunAsync(string file, params string[] arguments)
{
    using var process = Process.Start(new ProcessStartInfo(file, arguments)) ?? throw new InvalidOperationException($"{file} did not start");
    await process.WaitForExitAsync();
    if (process.ExitCode != 0) throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} exited with {process.ExitCode}");
}

static string Cgroups(int pid) => string.Join(' ', ProcessFacts.Read($"/proc/{pid}/cgroup").Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(line => !line.EndsWith(":/", StringComparison.Ordinal)));

static int ThreadCount(int pid) =>
    ProcessFacts.Read($"/proc/{pid}/status").Split('\n').FirstOrDefault(line => line.StartsWith("Threads:", StringComparison.Ordinal)) is { } line
        ? int.Parse(line["Threads:".Length..].Trim(), CultureInfo.InvariantCulture) : 0;

static double Median(IEnumerable<double> values)
{
    var sorted = values.Order().ToArray();
    return sorted.Length == 0 ? double.NaN : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
}

/// <summary>A server measured: its address, the Host and headers a request carries, and its process (tree) for CPU.</summary>
internal sealed record Target(string Name, string BaseUrl, string Host, string[] Headers, int Pid);

internal sealed record WrkResult(double RequestsPerSecond, long Requests, double P50Ms, double P99Ms, double CpuMicrosecondsPerRequest, double SwitchesPerRequest = 0);

/// <summary>How long each part runs: the suite's bounded profile (all of it within 6 minutes), or the fuller one alone.</summary>
internal sealed record Profile(int WarmupSeconds, int DotnetWarmupSeconds, int ProxyRoundSeconds, int ProxyMinRounds, int ProxyMaxRounds, int Rounds, int RoundSeconds,
    int RateSeconds, int RateRounds, int GapRounds, int GapSeconds, int WebSocketSeconds, int SpawnRuns, bool KestrelAlone, TimeSpan Budget, TimeSpan GapNeeds)
{
    public static readonly Profile Suite = new(3, 8, 5, 2, 4, 3, 4, 3, 1, 2, 4, 20, 3, false, TimeSpan.FromSeconds(300), TimeSpan.FromSeconds(90));
    public static readonly Profile Full = new(15, 45, 10, 4, 12, 3, 15, 10, 2, 4, 10, 60, 5, true, TimeSpan.FromHours(2), TimeSpan.Zero);
}

internal static class Wrk
{
    // wrk with --latency on core 0: requests/s, p50, p99. A non-2xx answer or socket error fails the run, after a
    // short second run whose Lua hook prints the first failed answer, so the failure says why.
    public static async Task<WrkResult> RunAsync(string url, string[] headers, int seconds, bool diagnose = false)
    {
        var arguments = new List<string> { "-c", "0", "wrk", "-t1", "-c64", $"-d{seconds}s", "--latency", "--timeout", "5s" };
        if (diagnose)
        {
            var script = Path.Combine(Path.GetTempPath(), "dw-bench-first-failure.lua");
            await File.WriteAllTextAsync(script, """
                local shown = false
                response = function(status, headers, body)
                  if status >= 400 and not shown then
                    shown = true
                    io.write("FIRST FAILURE ", status, " ", string.sub(body or "", 1, 600), "\n")
                  end
                end
                """);
            arguments.AddRange(["-s", script]);
        }

        foreach (var header in headers) arguments.AddRange(["-H", header]);
        arguments.Add(url);
        using var wrk = Process.Start(new ProcessStartInfo("taskset", arguments) { RedirectStandardOutput = true, RedirectStandardError = true })
            ?? throw new InvalidOperationException("wrk did not start (apt-get install wrk)");
        var output = await wrk.StandardOutput.ReadToEndAsync();
        output += await wrk.StandardError.ReadToEndAsync();
        await wrk.WaitForExitAsync();
        if (diagnose) Console.WriteLine("Diagnostic run:\n" + output);
        var failed = Regex.Match(output, @"Non-2xx or 3xx responses: (\d+)") is { Success: true } bad ? $"{bad.Groups[1].Value} non-2xx answers"
            : Regex.Match(output, @"Socket errors: .*") is { Success: true } socketErrors ? socketErrors.Value
            : !output.Contains("Requests/sec:", StringComparison.Ordinal) ? "no figures" : null;
        if (failed is not null)
        {
            if (!diagnose) await RunAsync(url, headers, 3, diagnose: true).ContinueWith(_ => { }, TaskScheduler.Default);
            throw new InvalidOperationException($"wrk against {url}: {failed}:\n{output}");
        }

        var perSecond = double.Parse(Regex.Match(output, @"Requests/sec:\s+([\d.]+)").Groups[1].Value, CultureInfo.InvariantCulture);
        var requests = long.Parse(Regex.Match(output, @"(\d+) requests in").Groups[1].Value, CultureInfo.InvariantCulture);
        return new WrkResult(perSecond, requests, Percentile(output, "50%"), Percentile(output, "99%"), 0);
    }

    private static double Percentile(string output, string which)
    {
        var match = Regex.Match(output, $@"\s{Regex.Escape(which)}\s+([\d.]+)(us|ms|s)\b");
        var value = double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
        return match.Groups[2].Value switch { "us" => value / 1000, "ms" => value, _ => value * 1000 };
    }
}
