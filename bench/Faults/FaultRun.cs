using System.Globalization;
using System.Net;
using System.Text.Json;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using DataWorkspace.TestSupport;
using Npgsql;

namespace DataWorkspace.Bench.Faults;

/// <summary>One run of the plan: the witnesses, the s3sync sidecar, each fault in turn, and the count of what was lost.</summary>
internal sealed class FaultRun : IAsyncDisposable
{
    private const int DatasetsPerWitness = 150;
    private static readonly TimeSpan RecoveryLimit = TimeSpan.FromSeconds(90);

    /// <summary>
    /// How long one fault may take from injection to its figures. A fault under way is finished within this even when
    /// the time for faults ends meanwhile: a restart cut off halfway would leave its resource stopped for the rest of a load.
    /// </summary>
    private static readonly TimeSpan FaultLimit = TimeSpan.FromMinutes(3);

    private readonly RunningPlatform platform;
    private readonly FaultOptions options;
    private readonly Action<string> log;
    private readonly PlatformProcesses processes;
    private readonly Ledger ledger = new();
    private readonly List<Witness> witnesses = [];
    private readonly CancellationTokenSource stopWitnesses = new();
    private readonly string run = DateTimeOffset.UtcNow.ToString("HHmmss", CultureInfo.InvariantCulture) + Guid.NewGuid().ToString("N")[..4];
    private readonly Queue<string> datasets = new();
    private readonly List<string> syncWritten = [];
    private readonly string syncFolder = Directory.CreateTempSubdirectory("dw-faults-sync-").FullName;
    private readonly DateTimeOffset began = DateTimeOffset.UtcNow;
    private IReadOnlyList<Uri> portals = [];
    private NpgsqlDataSource catalogue = null!;
    private string catalogueConnectionString = "";
    private AmazonS3Client s3 = null!;
    private Task witnessing = Task.CompletedTask;
    private Uri toolUrl = null!;
    private SidecarProcess? sidecar;
    private int? pausedEmulator;
    private const string SyncBucket = "faults-s3sync";
    private const string SyncPrefix = "home/sync/";

    private FaultRun(RunningPlatform platform, FaultOptions options, Action<string> log) =>
        (this.platform, this.options, this.log, processes) = (platform, options, log, new PlatformProcesses(platform, log));

    private Witness Prober => witnesses[Math.Min(1, witnesses.Count - 1)];
    private Witness ToolUser => witnesses[0];

    public static async Task<FaultRun> StartAsync(RunningPlatform platform, FaultOptions options, Action<string> log, CancellationToken ct)
    {
        if (options.Witnesses is < 1 or > FaultPlan.MaxWitnesses)
            throw new ArgumentOutOfRangeException(nameof(options), $"Witnesses is {options.Witnesses}: 1 to {FaultPlan.MaxWitnesses}.");
        var run = new FaultRun(platform, options, log);
        try
        {
            await run.PrepareAsync(ct);
            return run;
        }
        catch
        {
            await run.DisposeAsync();
            throw;
        }
    }

    private async Task PrepareAsync(CancellationToken ct)
    {
        await processes.WaitHealthyAsync(FaultPlan.SecondProxy, ct);
        var second = platform.App.GetEndpoint(FaultPlan.SecondProxy, "http");
        portals = [platform.PortalUrl, new UriBuilder(platform.PortalUrl) { Port = second.Port }.Uri];
        catalogueConnectionString = await platform.App.GetConnectionStringAsync("catalogue", ct) ?? throw new InvalidOperationException("no catalogue connection string");
        catalogue = NpgsqlDataSource.Create(catalogueConnectionString);
        var emulator = platform.App.GetEndpoint("aws", "http");
        s3 = new AmazonS3Client(new BasicAWSCredentials(MotoServer.AccessKeyId, MotoServer.SecretAccessKey),
            new AmazonS3Config { ServiceURL = emulator.ToString(), ForcePathStyle = true, AuthenticationRegion = MotoServer.Region, Timeout = TimeSpan.FromSeconds(10) });

        var count = options.Witnesses * DatasetsPerWitness;
        await ExecuteAsync("""
            INSERT INTO datasets (id, type, name, slug, short_description, description, publisher, licence, retention, classification,
              information_asset_owner, information_asset_manager, editors, access_type, authorized_email_domains, eligibility_criteria,
              published, published_at, created_at, updated_at)
            SELECT gen_random_uuid(), 'SourceDataset', 'Faults bench ' || $1 || ' ' || i, 'faults-' || $1 || '-' || i, 'Asked for while the platform fails', '',
              'Faults bench', '', '', 'Official', 'morgan.lee@trade.example', 'morgan.lee@trade.example', '{}', 'RequiresAuthorization', '{}',
              '{"I work on trade policy"}', true, now(), now(), now()
            FROM generate_series(1, $2) AS i
            """, run, count);
        for (var i = 1; i <= count; i++) datasets.Enqueue($"faults-{run}-{i}");

        for (var i = 0; i < options.Witnesses; i++)
            witnesses.Add(await Witness.SignInAsync(platform, portals, FaultPlan.WitnessEmail(i), run, ct));
        log($"faults: {witnesses.Count} witnesses signed in; replicas {string.Join(" and ", portals)}");

        // The tool whose process is killed: the first witness's sample app, opened and answering.
        await ExecuteAsync("INSERT INTO tools_permissions (user_id, source, granted_at, granted_by) VALUES ($1, 'Admin', now(), 'faults bench') ON CONFLICT DO NOTHING", ToolUser.UserId);
        var tools = JsonDocument.Parse(await ToolUser.Client.Http.GetStringAsync("/api/v1/tools", ct)).RootElement;
        toolUrl = new Uri(tools.EnumerateArray().First(tool => tool.GetProperty("hostBasename").GetString() == "sample").GetProperty("url").GetString()!);
        if (await UntilAsync(() => ToolAnswersAsync(ct), TimeSpan.FromSeconds(60), ct) is null)
            throw new InvalidOperationException($"{toolUrl} did not answer within 60 s");

        // A tool's s3sync sidecar, as the Local launcher runs it, syncing a folder of its own with its own bucket.
        await s3.PutBucketAsync(SyncBucket, ct);
        var work = Path.Combine(syncFolder, "home");
        Directory.CreateDirectory(work);
        sidecar = SidecarProcess.Start(emulator, SyncBucket, SyncPrefix, work, Path.Combine(syncFolder, "state.json"));
        await sidecar.FirstRoundDoneAsync(TimeSpan.FromSeconds(60));

        witnessing = Task.WhenAll(witnesses.Select(witness => Task.Run(() => witness.RunAsync(ledger, NextDataset, stopWitnesses.Token))));
    }

    private string? NextDataset()
    {
        lock (datasets) return datasets.TryDequeue(out var slug) ? slug : null;
    }

    public async Task<IReadOnlyList<FaultOutcome>> InjectAllAsync(CancellationToken ct)
    {
        var outcomes = new List<(FaultOutcome Outcome, double Seconds, double Target, string What)>();
        // The time given for faults can end before the plan does: no fault starts after it, and the faults that ran are
        // still checked and reported.
        foreach (var fault in options.Faults)
        {
            try
            {
                await Task.Delay(options.Settle, ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                log($"faults: the time for faults ended before {fault}");
                break;
            }

            log($"faults: {fault}");
            var start = DateTimeOffset.UtcNow;
            // Its own time, not the time for faults: once injected, a fault is seen through to recovery (or its limit).
            using var finish = new CancellationTokenSource(FaultLimit);
            try
            {
                outcomes.Add(fault switch
                {
                    FaultPlan.PostgresRestart => await PostgresRestartAsync(finish.Token),
                    FaultPlan.ToolKilled => await ToolKilledAsync(finish.Token),
                    FaultPlan.S3Down => await S3DownAsync(finish.Token),
                    FaultPlan.WebRestart => await WebRestartAsync(finish.Token),
                    FaultPlan.ProxyReplicaKilled => await ProxyReplicaKilledAsync(finish.Token),
                    _ => throw new ArgumentException($"Unknown fault '{fault}': one of {string.Join(", ", FaultPlan.All)}"),
                });
            }
            catch (Exception exception) when (exception is not ArgumentException)
            {
                // A fault the platform did not recover from (or the bench could not inject) is a result; the next fault
                // still runs while there is time.
                var now = DateTimeOffset.UtcNow;
                var why = exception is OperationCanceledException && finish.IsCancellationRequested
                    ? $"had NOT recovered {FaultLimit.TotalSeconds:0} s after it was injected"
                    : $"did NOT recover: {exception.GetType().Name}: {exception.Message}";
                outcomes.Add((new FaultOutcome(fault, start, now, false, 0, why), (now - start).TotalSeconds, TargetOf(fault), "recovery"));
            }

            log($"faults: {fault} done: {outcomes[^1].Outcome.Detail}");
        }

        // The witnesses finish what they are doing; then what they were told is checked, within a time of its own.
        await stopWitnesses.CancelAsync();
        await witnessing;
        using var checking = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var lost = await LostAsync(checking.Token);
        var results = new List<FaultOutcome>();
        foreach (var (outcome, seconds, target, what) in outcomes)
        {
            var mine = lost.Where(item => Window(outcome).Contains(item.At)).ToList();
            var final = outcome with
            {
                Lost = outcome.Lost + mine.Count,
                Detail = mine.Count == 0 ? outcome.Detail : $"{outcome.Detail}; LOST: {string.Join(", ", mine.Select(item => item.What))}",
            };
            results.Add(final);
            BenchResults.Under(options.Bench, $"{final.Name}: {what}", Math.Round(seconds, 2), "s", target, final.Detail);
            BenchResults.Under(options.Bench, $"{final.Name}: lost", final.Lost, "items", 1, "told done but not in the database or S3");
            BenchResults.Info(options.Bench, $"{final.Name}: failed answers", Failures(outcome), "responses", note: "what users saw: " + Seen(outcome));
        }

        var outside = lost.Where(item => !outcomes.Any(o => Window(o.Outcome).Contains(item.At))).ToList();
        var told = ledger.Done.Count;
        log($"faults: {told} actions told done ({ledger.Done.Count(d => d.Kind == "access-request")} access requests, {ledger.Done.Count(d => d.Kind == "upload")} uploads) of {ledger.Attempts} tried; {lost.Count} lost; {ledger.Exchanges.Count} requests, {ledger.Exchanges.Count(e => !e.Ok)} failed");
        BenchResults.Under(options.Bench, "lost outside the faults", outside.Count, "items", 1,
            $"{told} actions told done in all ({ledger.Done.Count(d => d.Kind == "access-request")} access requests, {ledger.Done.Count(d => d.Kind == "upload")} uploads) of {ledger.Attempts} tried"
            + (outside.Count == 0 ? "" : "; LOST: " + string.Join(", ", outside.Select(item => item.What))));
        PlotOverTime(outcomes.Select(o => o.Outcome).ToList());
        return results;
    }

    // Each fault's recovery target in seconds (the issue's for PostgreSQL; see bench/README for the others).
    private const double PostgresTarget = 5, ToolTarget = 15, S3Target = 30, WebTarget = 30, ProxyTarget = 1;

    private static double TargetOf(string fault) => fault switch
    {
        FaultPlan.PostgresRestart => PostgresTarget,
        FaultPlan.ToolKilled => ToolTarget,
        FaultPlan.S3Down => S3Target,
        FaultPlan.WebRestart => WebTarget,
        _ => ProxyTarget,
    };

    /// <summary>A window that counts the actions told done while the fault lasted, and a few seconds after.</summary>
    private static (DateTimeOffset From, DateTimeOffset To) Window(FaultOutcome outcome) => (outcome.Start, outcome.Recovered.AddSeconds(5));

    private async Task<(FaultOutcome, double, double, string)> PostgresRestartAsync(CancellationToken ct)
    {
        const double target = PostgresTarget;
        var pid = processes.PostmasterProcessId();
        var start = DateTimeOffset.UtcNow;
        // A fast shutdown (SIGINT: what postgres-run.sh gives the server when the orchestrator stops it), then the
        // orchestrator starts the resource again as it started it.
        var ended = await processes.StopAsync("postgres", pid, PlatformProcesses.SigInt, TimeSpan.FromSeconds(60), ct);
        await processes.StartAsync("postgres", ct);
        var back = await UntilAsync(() => PostgresAnswersAsync(ct), RecoveryLimit, ct) ?? throw new TimeoutException("PostgreSQL did not come back within 90 s. " + await processes.DescribeAsync("postgres"));
        // The bench's own pooled connections were ended by the restart.
        catalogue.Clear();
        var served = await UntilAsync(() => ProbeAsync("/requests", "Your requests", ct), RecoveryLimit, ct);
        var recovered = served ?? DateTimeOffset.UtcNow;
        var seconds = (recovered - back).TotalSeconds;
        var outcome = new FaultOutcome(FaultPlan.PostgresRestart, start, recovered, served is not null && seconds < target, 0,
            $"PostgreSQL's server (process {pid}) given a fast shutdown (SIGINT), ended after {(ended - start).TotalSeconds:0.0} s, started again by the orchestrator, accepting connections {(back - start).TotalSeconds:0.0} s after the shutdown began; " +
            (served is null ? "the web app did NOT serve a page that reads the database within 90 s" : $"the web app served 'Your requests' {seconds:0.0} s later") +
            $"; users saw: {Seen(start, recovered)}");
        return (outcome, seconds, target, "web serving again after PostgreSQL is back");
    }

    private async Task<(FaultOutcome, double, double, string)> ToolKilledAsync(CancellationToken ct)
    {
        const double target = ToolTarget;
        var host = toolUrl.Host[..toolUrl.Host.IndexOf('.', StringComparison.Ordinal)];
        var pid = int.Parse(await ScalarAsync<string>("SELECT launcher_handle FROM tool_instances WHERE host = $1 AND state = 'Running'", host)
            ?? throw new InvalidOperationException($"{host} is not running"), CultureInfo.InvariantCulture);
        var start = DateTimeOffset.UtcNow;
        PlatformProcesses.Kill(pid);
        // The user opens the tool again and again (as they would press "Restart it" and wait on the progress page).
        var served = await UntilAsync(() => ToolAnswersAsync(ct), RecoveryLimit, ct);
        var recovered = served ?? DateTimeOffset.UtcNow;
        var seconds = (recovered - start).TotalSeconds;
        var outcome = new FaultOutcome(FaultPlan.ToolKilled, start, recovered, served is not null && seconds < target, 0,
            $"process {pid} of {host} killed (SIGKILL); " + (served is null ? "the tool did NOT answer again within 90 s" : $"the tool answered again {seconds:0.0} s later") +
            $"; the user opening it saw: {Seen(start, recovered, "tool")}");
        return (outcome, seconds, target, "tool serving again after its process is killed");
    }

    private async Task<(FaultOutcome, double, double, string)> S3DownAsync(CancellationToken ct)
    {
        const double target = S3Target;
        var pid = processes.ProcessId("aws");
        var start = DateTimeOffset.UtcNow;
        PlatformProcesses.Pause(pid);
        pausedEmulator = pid;
        try
        {
            // A user's tool writes files into its home folder while S3 does not answer.
            var written = 0;
            while (DateTimeOffset.UtcNow - start < options.S3Outage)
            {
                var name = $"during-outage-{++written}.txt";
                await File.WriteAllTextAsync(Path.Combine(syncFolder, "home", name), $"written {DateTimeOffset.UtcNow:O} while S3 was down\n", ct);
                lock (syncWritten) syncWritten.Add(SyncPrefix + name);
                await Task.Delay(TimeSpan.FromSeconds(Math.Min(3, options.S3Outage.TotalSeconds / 4)), ct);
            }

            var remaining = options.S3Outage - (DateTimeOffset.UtcNow - start);
            if (remaining > TimeSpan.Zero) await Task.Delay(remaining, ct);
        }
        finally
        {
            PlatformProcesses.Resume(pid);
            pausedEmulator = null;
        }

        var back = DateTimeOffset.UtcNow;
        var synced = await UntilAsync(async () => (await MissingSyncedAsync(ct)).Count == 0, RecoveryLimit, ct);
        var uploaded = await UntilAsync(() => Task.FromResult(ledger.Done.Any(done => done.Kind == "upload" && done.At > back)), RecoveryLimit, ct);
        var missing = synced is null ? await MissingSyncedAsync(ct) : [];
        var recovered = new[] { synced ?? DateTimeOffset.UtcNow, uploaded ?? DateTimeOffset.UtcNow }.Max();
        var seconds = (recovered - back).TotalSeconds;
        var outcome = new FaultOutcome(FaultPlan.S3Down, start, recovered, synced is not null && uploaded is not null && seconds < target, missing.Count,
            $"S3 (moto, SIGSTOP: it keeps its objects) did not answer for {(back - start).TotalSeconds:0} s; s3sync " +
            (synced is null ? $"had NOT uploaded {missing.Count} of the {syncWritten.Count} files written meanwhile after 90 s" : $"had every one of the {syncWritten.Count} files written meanwhile in S3 {(synced.Value - back).TotalSeconds:0.0} s after")
            + "; " + (uploaded is null ? "no upload succeeded within 90 s after" : $"the first upload after was confirmed {(uploaded.Value - back).TotalSeconds:0.0} s after")
            + $"; uploaders saw: {Seen(start, recovered, "upload")}");
        return (outcome, seconds, target, "s3sync caught up and uploads working after S3 is back");
    }

    private async Task<(FaultOutcome, double, double, string)> WebRestartAsync(CancellationToken ct)
    {
        const double target = WebTarget;
        var pid = processes.ProcessId("web");
        var start = DateTimeOffset.UtcNow;
        // SIGTERM to the app, as ECS stops a task (the app drains its requests and stops its local tools), SIGKILL if it
        // outlasts ECS's default stop timeout; then the orchestrator starts it again.
        var ended = await processes.StopAsync("web", pid, PlatformProcesses.SigTerm, TimeSpan.FromSeconds(30), ct);
        await processes.StartAsync("web", ct);
        var restarted = DateTimeOffset.UtcNow;
        // The same cookie as before: the home page greets the witness, rather than sending them to sign in again.
        var served = await UntilAsync(() => ProbeAsync("/", "Welcome, Witness", ct), RecoveryLimit, ct);
        var recovered = served ?? DateTimeOffset.UtcNow;
        var seconds = (recovered - start).TotalSeconds;
        var outcome = new FaultOutcome(FaultPlan.WebRestart, start, recovered, served is not null && seconds < target, 0,
            $"the web app (process {pid}, under its dotnet run) stopped with SIGTERM behind both proxies, ended after {(ended - start).TotalSeconds:0.0} s, started again by the orchestrator (the start returned {(restarted - ended).TotalSeconds:0.0} s later); " +
            (served is null ? "the portal did NOT greet the signed-in user again within 90 s" : $"the portal greeted the same session again after {seconds:0.0} s") +
            $"; users saw: {Seen(start, recovered)}");
        return (outcome, seconds, target, "portal serving the same session again");
    }

    private async Task<(FaultOutcome, double, double, string)> ProxyReplicaKilledAsync(CancellationToken ct)
    {
        const double target = ProxyTarget;
        var pid = processes.ReportedProcessId(FaultPlan.SecondProxy);
        var command = PlatformProcesses.CommandLine(pid);
        var start = DateTimeOffset.UtcNow;
        PlatformProcesses.KillTree(pid);
        var served = await UntilAsync(() => ProbeAsync("/", "Welcome, Witness", ct), RecoveryLimit, ct);
        using var health = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        async Task<bool> SecondAnswersAsync()
        {
            try
            {
                using var answer = await health.GetAsync($"http://127.0.0.1:{portals[1].Port.ToString(CultureInfo.InvariantCulture)}/health", ct);
                return answer.IsSuccessStatusCode;
            }
            catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
            {
                return false;
            }
        }

        var gone = await UntilAsync(async () => !await SecondAnswersAsync(), TimeSpan.FromSeconds(5), ct);
        var recovered = served ?? DateTimeOffset.UtcNow;
        var seconds = (recovered - start).TotalSeconds;
        // The other replica alone for a while, then the orchestrator starts the killed one again (as ECS would).
        await Task.Delay(TimeSpan.FromSeconds(5), ct);
        if (await UntilAsync(() => Task.FromResult(processes.HasStopped(FaultPlan.SecondProxy)), TimeSpan.FromSeconds(30), ct) is null)
            log($"faults: the orchestrator still reported {FaultPlan.SecondProxy} {platform.StateOf(FaultPlan.SecondProxy)} 35 s after its process was killed; starting it all the same");
        var restart = DateTimeOffset.UtcNow;
        await processes.StartAsync(FaultPlan.SecondProxy, ct);
        // Its own health endpoint, asked directly: the orchestrator's health state may still be the one from before the kill.
        var healthy = await UntilAsync(SecondAnswersAsync, RecoveryLimit, ct);
        var replaced = ((healthy ?? DateTimeOffset.UtcNow) - restart).TotalSeconds;
        var outcome = new FaultOutcome(FaultPlan.ProxyReplicaKilled, start, recovered, served is not null && gone is not null && seconds < target, 0,
            $"{FaultPlan.SecondProxy} (process {pid}, {command}, and the app under it) killed (SIGKILL), " + (gone is null ? "but it STILL answered 5 s later; " : "it no longer answered; ") + (served is null ? "the other replica did NOT serve within 90 s" : $"the other replica served {seconds:0.00} s later")
            + (healthy is null ? "; started again, NOT healthy within 90 s" : $"; started again and healthy {replaced:0.0} s after") + $"; users saw: {Seen(start, restart)}");
        return (outcome, seconds, target, "the other replica serving");
    }

    /// <summary>A page through the replicas that reads the database; true when it answers 200 with <paramref name="expected"/>.</summary>
    private async Task<bool> ProbeAsync(string path, string expected, CancellationToken ct)
    {
        var (response, body) = await Prober.SendAsync(ledger, "probe", portal => new HttpRequestMessage(HttpMethod.Get, new Uri(portal, path)), TimeSpan.FromSeconds(10), ct);
        using (response)
            return response?.StatusCode == HttpStatusCode.OK && body.Contains(expected, StringComparison.Ordinal);
    }

    private async Task<bool> ToolAnswersAsync(CancellationToken ct)
    {
        var (response, body) = await ToolUser.SendAsync(ledger, "tool", portal => new HttpRequestMessage(HttpMethod.Get, new UriBuilder(toolUrl) { Port = portal.Port }.Uri),
            TimeSpan.FromSeconds(15), ct);
        using (response)
            return response?.StatusCode == HttpStatusCode.OK && body.Contains("Witness", StringComparison.Ordinal);
    }

    private async Task<bool> PostgresAnswersAsync(CancellationToken ct)
    {
        try
        {
            var connectionString = new NpgsqlConnectionStringBuilder(catalogueConnectionString) { Pooling = false, Timeout = 2 }.ConnectionString;
            await using var connection = new NpgsqlConnection(connectionString);
            await connection.OpenAsync(ct);
            return true;
        }
        catch (Exception exception) when (exception is NpgsqlException or TimeoutException or IOException)
        {
            return false;
        }
    }

    /// <summary>Polls every 200 ms until the condition holds; the moment it did, or null after <paramref name="limit"/>.</summary>
    private static async Task<DateTimeOffset?> UntilAsync(Func<Task<bool>> condition, TimeSpan limit, CancellationToken ct)
    {
        var deadline = DateTimeOffset.UtcNow + limit;
        while (DateTimeOffset.UtcNow < deadline)
        {
            if (await condition()) return DateTimeOffset.UtcNow;
            await Task.Delay(200, ct);
        }

        return null;
    }

    private async Task<List<string>> MissingSyncedAsync(CancellationToken ct)
    {
        var keys = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            await foreach (var item in s3.Paginators.ListObjectsV2(new ListObjectsV2Request { BucketName = SyncBucket, Prefix = SyncPrefix }).S3Objects.WithCancellation(ct))
                keys.Add(item.Key);
        }
        catch (AmazonServiceException)
        {
        }

        lock (syncWritten) return [.. syncWritten.Where(key => !keys.Contains(key))];
    }

    /// <summary>What the witnesses were told was done and is not there: access requests and their audit entries, uploaded files in S3 and in the audit log.</summary>
    private async Task<List<(DateTimeOffset At, string What)>> LostAsync(CancellationToken ct)
    {
        var lost = new List<(DateTimeOffset, string)>();
        var requests = ledger.Done.Where(done => done.Kind == "access-request").ToList();
        var found = new Dictionary<Guid, bool>();
        await using (var command = catalogue.CreateCommand("""
            SELECT r.id, EXISTS (SELECT 1 FROM audit_events a WHERE a.action = 'access.requested' AND a.dataset_id = r.dataset_id AND a.subject_user_id = r.user_id)
            FROM access_requests r WHERE r.id = ANY($1)
            """))
        {
            command.Parameters.AddWithValue(requests.Select(done => Guid.Parse(done.Item)).ToArray());
            await using var reader = await command.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct)) found[reader.GetGuid(0)] = reader.GetBoolean(1);
        }

        foreach (var done in requests)
            if (!found.TryGetValue(Guid.Parse(done.Item), out var audited))
                lost.Add((done.At, $"access request {done.Item} of {done.User}"));
            else if (!audited)
                lost.Add((done.At, $"the audit entry of access request {done.Item} of {done.User}"));

        var uploads = ledger.Done.Where(done => done.Kind == "upload").ToList();
        var audit = new HashSet<string>(StringComparer.Ordinal);
        await using (var command = catalogue.CreateCommand("SELECT details FROM audit_events WHERE action = 'files.uploaded' AND actor_id = ANY($1)"))
        {
            command.Parameters.AddWithValue(witnesses.Select(witness => witness.UserId).ToArray());
            await using var reader = await command.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
                if (!reader.IsDBNull(0))
                    foreach (var line in reader.GetString(0).Split('\n'))
                        audit.Add(line.Split('\t')[0]);
        }

        var stored = new HashSet<string>(StringComparer.Ordinal);
        foreach (var witness in witnesses)
            await foreach (var item in s3.Paginators.ListObjectsV2(new ListObjectsV2Request { BucketName = witness.Bucket, Prefix = witness.FilesPrefix }).S3Objects.WithCancellation(ct))
                stored.Add(item.Key);
        foreach (var done in uploads)
        {
            if (!stored.Contains(done.Item)) lost.Add((done.At, $"file {done.Item} (not in S3)"));
            if (!audit.Contains(done.Item)) lost.Add((done.At, $"the audit entry of file {done.Item}"));
        }

        return lost;
    }

    private int Failures(FaultOutcome outcome) => ledger.Exchanges.Count(e => !e.Ok && e.At >= outcome.Start && e.At <= outcome.Recovered);

    private string Seen(FaultOutcome outcome) => Seen(outcome.Start, outcome.Recovered);

    /// <summary>The answers the witnesses had in a window, most frequent first: "503 The portal is restarting x12; 200 x40".</summary>
    private string Seen(DateTimeOffset from, DateTimeOffset to, string? kind = null)
    {
        var answers = ledger.Exchanges.Where(e => e.At >= from && e.At <= to && (kind is null || e.Kind == kind)).ToList();
        if (answers.Count == 0) return "no requests";
        return string.Join("; ", answers.GroupBy(e => (e.Status, e.Seen)).OrderByDescending(g => g.Count())
            .Select(g => $"{(g.Key.Status == 0 ? "" : g.Key.Status.ToString(CultureInfo.InvariantCulture) + " ")}{g.Key.Seen} x{g.Count()}".Replace("  ", " ", StringComparison.Ordinal)));
    }

    /// <summary>Answers and failures a second over the whole run, for the report's plot.</summary>
    private void PlotOverTime(IReadOnlyList<FaultOutcome> outcomes)
    {
        var seconds = ledger.Exchanges.GroupBy(e => Math.Floor((e.At - began).TotalSeconds)).OrderBy(g => g.Key).ToList();
        BenchResults.Line(options.Bench, "Witness requests during the faults", "answered", "seconds since the witnesses began", "requests/s",
            [.. seconds.Select(g => (g.Key, (double)g.Count(e => e.Ok)))]);
        BenchResults.Line(options.Bench, "Witness requests during the faults", "failed", "seconds since the witnesses began", "requests/s",
            [.. seconds.Select(g => (g.Key, (double)g.Count(e => !e.Ok)))]);
        foreach (var outcome in outcomes)
            log($"faults: {outcome.Name} from {(outcome.Start - began).TotalSeconds:0.0} s to {(outcome.Recovered - began).TotalSeconds:0.0} s");
    }

    private async Task ExecuteAsync(string sql, params object[] parameters)
    {
        await using var command = catalogue.CreateCommand(sql);
        foreach (var parameter in parameters) command.Parameters.AddWithValue(parameter);
        await command.ExecuteNonQueryAsync();
    }

    private async Task<T?> ScalarAsync<T>(string sql, params object[] parameters)
    {
        await using var command = catalogue.CreateCommand(sql);
        foreach (var parameter in parameters) command.Parameters.AddWithValue(parameter);
        return await command.ExecuteScalarAsync() is T value ? value : default;
    }

    public async ValueTask DisposeAsync()
    {
        if (pausedEmulator is { } pid) PlatformProcesses.Resume(pid);
        await stopWitnesses.CancelAsync();
        try
        {
            await witnessing;
        }
        catch (OperationCanceledException)
        {
        }

        foreach (var witness in witnesses) witness.Dispose();
        if (sidecar is not null) await sidecar.DisposeAsync();
        s3?.Dispose();
        if (catalogue is not null) await catalogue.DisposeAsync();
        stopWitnesses.Dispose();
        TestDirectories.Delete(syncFolder);
    }
}

internal static class WindowExtensions
{
    public static bool Contains(this (DateTimeOffset From, DateTimeOffset To) window, DateTimeOffset at) => at >= window.From && at <= window.To;
}
