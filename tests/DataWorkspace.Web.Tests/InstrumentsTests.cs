using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using DataWorkspace.Contracts;
using DataWorkspace.Web.DatabaseAccess;
using DataWorkspace.Web.Tools;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace DataWorkspace.Web.Tests;

/// <summary>
/// The platform's own instruments as an SRE reads them on <c>/metrics</c> after real work: a local tool started and
/// culled, Data Explorer queries that complete, fail and are cancelled, a download, an email waiting in the outbox, a
/// permission sync and a refused request; and what a local tool writes reaching the log with its tool and user.
/// </summary>
[Collection(typeof(ToolCulling))]
public sealed partial class InstrumentsTests(WebFixture web) : IAsyncDisposable
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;
    private readonly string workDirectory = Path.Combine(Path.GetTempPath(), "dw-instruments-test-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly CapturedLogs logs = new();

    private WebApplicationFactory<Program> App => field ??= web.Factory.WithWebHostBuilder(host => host
        .UseSetting("Tools:LocalWorkDirectory", workDirectory)
        .UseSetting("Tools:SpawnTimeout", "00:00:30")
        .UseSetting("Tools:IdleTimeout", "00:10:00")
        // A tool that says something on each of its outputs, then serves its home folder.
        .UseSetting("Tools:Templates:0:Name", "Echo")
        .UseSetting("Tools:Templates:0:HostBasename", "echo")
        .UseSetting("Tools:Templates:0:Command:0", "sh")
        .UseSetting("Tools:Templates:0:Command:1", "-c")
        .UseSetting("Tools:Templates:0:Command:2", "echo 'echo tool listening on {port}' && echo 'echo tool warning' >&2 && exec python3 -m http.server {port} --bind 127.0.0.1")
        .UseSetting("Tools:Templates:1:Name", "Broken")
        .UseSetting("Tools:Templates:1:HostBasename", "broken")
        .UseSetting("Tools:Templates:1:Command:0", "sh")
        .UseSetting("Tools:Templates:1:Command:1", "-c")
        .UseSetting("Tools:Templates:1:Command:2", "echo 'no licence for this tool' >&2; exit 3")
        .ConfigureLogging(logging => logging.AddProvider(logs)));

    [Fact]
    public async Task After_a_spawn_queries_a_download_and_a_refusal_metrics_show_each_with_its_labels()
    {
        // The tools' instruments are made when the tools are first used. In a run of every test many web apps share the
        // process and their meters' names, and the exporter of one may take another's copy of such a late-made
        // instrument (and lose it when that app goes), so the tools' figures are read from this app's own meter.
        var spawns = new ConcurrentBag<(string? Stage, string? Launcher, string? Error, double Seconds)>();
        var culls = new ConcurrentBag<string?>();
        var appMeter = DataWorkspace.Web.Telemetry.WebTelemetry.WebMeter(App.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter == appMeter && instrument.Name is "dataworkspace.tools.culls" or "dataworkspace.tools.spawn.duration") l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((_, _, tags, _) =>
        {
            foreach (var tag in tags) if (tag.Key == "reason") culls.Add(tag.Value?.ToString());
        });
        listener.SetMeasurementEventCallback<double>((_, seconds, tags, _) =>
        {
            string? stage = null, launcher = null, error = null;
            foreach (var tag in tags)
            {
                if (tag.Key == "stage") stage = tag.Value?.ToString();
                else if (tag.Key == "launcher") launcher = tag.Value?.ToString();
                else if (tag.Key == "error.type") error = tag.Value?.ToString();
            }
            spawns.Add((stage, launcher, error, seconds));
        });
        listener.Start();

        var user = await UserAsync();
        var (status, started) = await SendAsync(HttpMethod.Post, "/api/v1/tools/echo/start", user, new { });
        Assert.Equal(HttpStatusCode.Accepted, status);
        var toolId = started.GetProperty("id").GetGuid();
        await App.Services.GetRequiredService<ToolInstances>().SpawnedAsync(toolId);
        Assert.Equal("Running", await web.ScalarAsync<string>("SELECT state FROM tool_instances WHERE id = $1", toolId));

        // And one that dies while the platform waits for it to answer.
        var (_, broken) = await SendAsync(HttpMethod.Post, "/api/v1/tools/broken/start", user, new { });
        await App.Services.GetRequiredService<ToolInstances>().SpawnedAsync(broken.GetProperty("id").GetGuid());

        var (_, completed) = await SendAsync(HttpMethod.Post, "/api/v1/explorer/run", user, new { sql = "SELECT n, 'row ' || n AS label FROM generate_series(1, 500) AS n" });
        Assert.Equal("completed", completed.GetProperty("status").GetString());
        var (_, failed) = await SendAsync(HttpMethod.Post, "/api/v1/explorer/run", user, new { sql = "SELECT 1 / 0" });
        Assert.Equal("failed", failed.GetProperty("status").GetString());
        var (_, sleeping) = await SendAsync(HttpMethod.Post, "/api/v1/explorer/run", user, new { sql = "SELECT pg_sleep(60)", wait = 0 });
        var (_, cancelled) = await SendAsync(HttpMethod.Post, $"/api/v1/explorer/queries/{sleeping.GetProperty("id").GetString()}/cancel", user);
        Assert.Equal("cancelled", cancelled.GetProperty("status").GetString());

        long downloaded;
        using (var client = App.CreateClient())
        using (var download = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/explorer/queries/{completed.GetProperty("id").GetString()}/download?format=csv"))
        {
            download.Headers.TryAddWithoutValidation(IdentityHeaders.SignedIdentity, web.Tokens().Issue(user));
            using var response = await client.SendAsync(download, Cancel);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            downloaded = (await response.Content.ReadAsByteArrayAsync(Cancel)).Length;
        }

        // A page of another site trying to run a query in the user's name.
        using (var client = App.CreateClient())
        using (var foreign = new HttpRequestMessage(HttpMethod.Post, "/api/v1/explorer/run") { Content = JsonContent.Create(new { sql = "SELECT 1" }) })
        {
            foreign.Headers.TryAddWithoutValidation(IdentityHeaders.SignedIdentity, web.Tokens().Issue(user));
            foreign.Headers.TryAddWithoutValidation("Origin", "https://attacker.example");
            using var refused = await client.SendAsync(foreign, Cancel);
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        }

        // An email that waits for its next attempt.
        await web.ScalarAsync<object>("""
            INSERT INTO outbox_messages (id, "to", subject, body, created_at, next_attempt_at, attempts)
            VALUES (gen_random_uuid(), $1, 'Waiting', 'Body', now(), now() + interval '1 day', 1)
            """, user.Email);
        await App.Services.GetRequiredService<RoleSync>().SyncAsync(Cancel);

        // Gauges read the database at most every few seconds: scrape until they have caught up.
        var metrics = await ScrapeUntilAsync(m => Value(m, "dataworkspace_tools_running", ("launcher", "Local")) >= 1
            && Value(m, "dataworkspace_notifications_outbox_backlog") >= 1);
        var spawned = string.Join('\n', spawns.Select(s => $"{s.Stage} {s.Launcher} {s.Error} {s.Seconds}"));
        Assert.True(spawns.Any(s => s is { Stage: "provisioning", Launcher: "Local", Error: null }), spawned);
        Assert.True(spawns.Any(s => s is { Stage: "starting", Launcher: "Local", Error: null }), spawned);
        Assert.True(spawns.Any(s => s is { Stage: "waiting_for_the_app", Launcher: "Local", Error: null, Seconds: > 0 }), spawned);
        Assert.True(spawns.Any(s => s.Stage == "waiting_for_the_app" && s.Launcher == "Local" && s.Error == typeof(LaunchException).FullName), spawned);
        Assert.True(Value(metrics, "dataworkspace_explorer_query_duration_seconds_count", ("status", "completed")) >= 1, Dump(metrics, "explorer"));
        Assert.True(Value(metrics, "dataworkspace_explorer_query_duration_seconds_count", ("status", "failed")) >= 1, Dump(metrics, "explorer"));
        Assert.True(Value(metrics, "dataworkspace_explorer_query_duration_seconds_count", ("status", "cancelled")) >= 1, Dump(metrics, "explorer"));
        Assert.True(Value(metrics, "dataworkspace_explorer_queries_failed_total") >= 1, Dump(metrics, "explorer"));
        Assert.True(Value(metrics, "dataworkspace_explorer_queries_cancelled_total") >= 1, Dump(metrics, "explorer"));
        Assert.Contains(metrics, s => s.Name == "dataworkspace_explorer_queries_running");
        Assert.True(Value(metrics, "dataworkspace_downloads_size_bytes_total", ("format", "csv"), ("source", "explorer")) >= downloaded, Dump(metrics, "downloads"));
        Assert.True(Value(metrics, "dataworkspace_permissions_sync_duration_seconds_count") >= 1, Dump(metrics, "permissions"));
        Assert.True(Value(metrics, "dataworkspace_security_refusals_total", ("reason", "foreign_origin")) >= 1, Dump(metrics, "refusals"));

        // Left idle past its timeout, the tool is culled, and the cull is counted under its reason.
        Assert.Equal("Running", await web.ScalarAsync<string>("SELECT state FROM tool_instances WHERE id = $1", toolId));
        await web.ScalarAsync<object>("UPDATE tool_instances SET last_activity_at = now() - interval '1 day' WHERE id = $1", toolId);
        Assert.True(await App.Services.GetRequiredService<ToolCuller>().CullAsync(Cancel) >= 1);
        Assert.StartsWith("it was idle", await web.ScalarAsync<string>("SELECT coalesce(stop_reason, state) FROM tool_instances WHERE id = $1", toolId));
        Assert.Contains("idle", culls);
    }

    [Fact]
    public async Task What_a_local_tool_writes_reaches_the_log_line_by_line_with_its_tool_and_users_hash_and_never_their_email()
    {
        var user = await UserAsync();
        var (_, started) = await SendAsync(HttpMethod.Post, "/api/v1/tools/echo/start", user, new { });
        var toolId = started.GetProperty("id").GetGuid();
        await App.Services.GetRequiredService<ToolInstances>().SpawnedAsync(toolId);
        var host = $"echo-{user.Hash}";

        var stdout = logs.Entries.FirstOrDefault(e => e.Category == LocalLauncher.OutputCategory && e.Message.Contains("echo tool listening on") && e.Scope.GetValueOrDefault("dataworkspace.tool.host") == host);
        Assert.NotNull(stdout);
        Assert.Equal("Echo", stdout.Scope["dataworkspace.tool.name"]);
        Assert.Equal(user.Hash, stdout.Scope["dataworkspace.user.hash"]);
        Assert.Equal(toolId.ToString(), stdout.Scope["dataworkspace.tool.instance_id"]);
        Assert.Equal(LogLevel.Information, stdout.Level);
        Assert.Contains(logs.Entries, e => e.Category == LocalLauncher.OutputCategory && e.Message.Contains("stderr: echo tool warning") && e.Scope.GetValueOrDefault("dataworkspace.tool.host") == host);
        Assert.DoesNotContain(logs.Entries, e => e.Message.Contains(user.Email) || e.Scope.Values.Any(v => v?.Contains(user.Email) == true));

        await App.Services.GetRequiredService<ToolInstances>().StopAsync(toolId, null, Web.Audit.Actor.System, ToolStop.ByUser, Cancel);
    }

    [Fact]
    public async Task A_chatty_tool_is_cut_to_its_rate_and_its_long_lines_to_their_limit_and_says_how_many_lines_were_left_out()
    {
        var time = new SteppedTime();
        var logged = new CapturedLogs();
        var output = new LocalToolOutput(logged.CreateLogger(LocalLauncher.OutputCategory), time, "Chatty", "chatty-1a2b3c4d", "1a2b3c4d", Guid.NewGuid());

        for (var i = 0; i < LocalToolOutput.Burst + 500; i++) output.Line($"line {i}", "stdout");
        Assert.Equal(LocalToolOutput.Burst, logged.Entries.Count);

        // A second later the tool may say as much again as a second allows, and hears how much it lost.
        time.Advance(TimeSpan.FromSeconds(1));
        output.Line("after a pause", "stdout");
        Assert.Contains(logged.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("500 lines of output left out"));
        Assert.Contains(logged.Entries, e => e.Message.EndsWith("stdout: after a pause", StringComparison.Ordinal));

        time.Advance(TimeSpan.FromSeconds(10));
        using var overlong = new MemoryStream(Encoding.UTF8.GetBytes(new string('x', 100_000) + "\nshort\n"));
        await output.ReadAsync(overlong, "stderr");
        var cut = logged.Entries[^2].Message;
        Assert.EndsWith(new string('x', LocalToolOutput.MaxLineLength), cut);
        Assert.DoesNotContain(new string('x', LocalToolOutput.MaxLineLength + 1), cut);
        Assert.EndsWith("stderr: short", logged.Entries[^1].Message);
    }

    private async Task<PlatformIdentity> UserAsync()
    {
        var user = CatalogueData.NewUser("partner.example");
        await web.ScalarAsync<object>("INSERT INTO users (id, email, name, first_seen_at, last_seen_at) VALUES ($1, $2, $3, now(), now())", user.UserId, user.Email, user.Name);
        await web.ScalarAsync<object>("INSERT INTO tools_permissions (user_id, source, granted_at, granted_by) VALUES ($1, 'Admin', now(), 'test')", user.UserId);
        return user;
    }

    private Task<(HttpStatusCode Status, JsonElement Body)> SendAsync(HttpMethod method, string path, PlatformIdentity user, object? body = null) =>
        web.SendAsync(App, method, path, user, body);

    private sealed record Series(string Name, IReadOnlyDictionary<string, string> Labels, double Value);

    /// <summary>GET /metrics as Prometheus scrapes it (no identity: the proxy never forwards it from the public entry).</summary>
    private async Task<List<Series>> ScrapeAsync()
    {
        using var client = App.CreateClient();
        var text = await client.GetStringAsync("/metrics", Cancel);
        var series = new List<Series>();
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0 || line.StartsWith('#')) continue;
            var match = SampleLine().Match(line);
            Assert.True(match.Success, $"Not a Prometheus sample line: {line}");
            var labels = LabelPair().Matches(match.Groups["labels"].Value).ToDictionary(pair => pair.Groups[1].Value, pair => Regex.Unescape(pair.Groups[2].Value));
            series.Add(new Series(match.Groups["name"].Value, labels, double.Parse(match.Groups["value"].Value, CultureInfo.InvariantCulture)));
        }

        return series;
    }

    private async Task<List<Series>> ScrapeUntilAsync(Func<List<Series>, bool> caughtUp)
    {
        var metrics = await ScrapeAsync();
        for (var attempt = 0; attempt < 60 && !caughtUp(metrics); attempt++)
        {
            await Task.Delay(500, Cancel);
            metrics = await ScrapeAsync();
        }

        return metrics;
    }

    /// <summary>The largest value of the series with this name and these labels (each test host has its own meters), or -1.</summary>
    private static double Value(List<Series> metrics, string name, params (string Key, string Value)[] labels) =>
        metrics.Where(s => s.Name == name && labels.All(l => s.Labels.GetValueOrDefault(l.Key) == l.Value)).Select(s => s.Value).DefaultIfEmpty(-1).Max();

    private static string Dump(List<Series> metrics, string part) =>
        string.Join('\n', metrics.Where(s => s.Name.Contains(part, StringComparison.Ordinal)).Select(s => $"{s.Name}{{{string.Join(",", s.Labels.Select(l => $"{l.Key}={l.Value}"))}}} {s.Value}"));

    [GeneratedRegex("""^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>.*)\})?\s+(?<value>\S+)(\s+\d+)?$""")]
    private static partial Regex SampleLine();

    [GeneratedRegex(@"([a-zA-Z_][a-zA-Z0-9_]*)=""((?:[^""\\]|\\.)*)""")]
    private static partial Regex LabelPair();

    public async ValueTask DisposeAsync()
    {
        if (App is { } app) await app.DisposeAsync();
        if (Directory.Exists(workDirectory)) Directory.Delete(workDirectory, recursive: true);
    }

    private sealed record LogEntry(string Category, LogLevel Level, string Message, IReadOnlyDictionary<string, string?> Scope);

    /// <summary>Every log entry with the values of its scopes, as the OTLP exporter (IncludeScopes) sends them to the dashboard.</summary>
    private sealed class CapturedLogs : ILoggerProvider, ISupportExternalScope
    {
        private readonly ConcurrentQueue<LogEntry> entries = new();
        private IExternalScopeProvider scopes = new LoggerExternalScopeProvider();

        public List<LogEntry> Entries => [.. entries];

        public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

        public void SetScopeProvider(IExternalScopeProvider scopeProvider) => scopes = scopeProvider;

        public void Dispose()
        {
        }

        private sealed class Logger(CapturedLogs logs, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => logs.scopes.Push(state);

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                var scope = new Dictionary<string, string?>();
                logs.scopes.ForEachScope((value, into) =>
                {
                    if (value is IEnumerable<KeyValuePair<string, object?>> pairs)
                        foreach (var (key, item) in pairs) into[key] = item?.ToString();
                }, scope);
                logs.entries.Enqueue(new LogEntry(category, logLevel, formatter(state, exception), scope));
            }
        }
    }

    /// <summary>A clock that moves only when told, for the output's rate.</summary>
    private sealed class SteppedTime : TimeProvider
    {
        private long ticks;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => Interlocked.Read(ref ticks);

        public void Advance(TimeSpan by) => Interlocked.Add(ref ticks, by.Ticks);
    }
}
