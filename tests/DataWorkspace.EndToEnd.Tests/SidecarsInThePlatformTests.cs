using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using DataWorkspace.Contracts;

namespace DataWorkspace.EndToEnd.Tests;

/// <summary>
/// The sidecars in the running platform: the tools' DNS server beside it, and each local tool's metrics sidecar found
/// and scraped by a real Prometheus through the web app's service discovery.
/// </summary>
public sealed class SidecarsInThePlatformTests(PlatformFixture fixture)
{
    private RunningPlatform Platform => fixture.Platform;
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task The_tools_dns_server_becomes_healthy_resolving_an_allowed_name()
    {
        // Its health name must resolve at this machine's nameserver; where DNS does not work there is nothing to check.
        try
        {
            await Dns.GetHostAddressesAsync("registry.npmjs.org", Cancel);
        }
        catch (SocketException exception)
        {
            Assert.Skip($"This machine cannot resolve registry.npmjs.org ({exception.Message}), so the DNS server's health cannot be seen.");
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Cancel);
        timeout.CancelAfter(TimeSpan.FromMinutes(1));
        await Platform.App.ResourceNotifications.WaitForResourceHealthyAsync("dns-rewrite", timeout.Token);
    }

    [Fact]
    public async Task Prometheus_finds_a_running_local_tool_through_service_discovery_and_scrapes_its_cpu_and_memory()
    {
        if (Executable("prometheus") is not { } prometheus)
        {
            Assert.Skip("Prometheus is not installed (on Debian: apt-get install prometheus; dw test installs it).");
            return;
        }

        const string email = "morgan.lee@trade.example";
        using var client = Platform.Client();
        await client.SignInAsync(email, cancellationToken: Cancel);
        var userId = (await Platform.CatalogueScalarAsync<string>("SELECT id FROM users WHERE email = $1", email))!;
        await Platform.CatalogueScalarAsync<object>(
            "INSERT INTO tools_permissions (user_id, source, granted_at, granted_by) VALUES ($1, 'Admin', now(), 'test') ON CONFLICT DO NOTHING", userId);
        var host = $"sample-{UserHash.Of(userId)}";
        // The first visit starts the tool.
        using (await client.Http.GetAsync(new Uri($"http://{host}.{Platform.PortalUrl.Host}:{Platform.PortalUrl.Port}/"), Cancel)) { }

        var directory = Path.Combine(Path.GetTempPath(), "dw-prometheus-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(directory);
        var password = (await File.ReadAllTextAsync(Path.Combine(Platform.DataDirectory, "secrets", "prometheus-password"), Cancel)).Trim();
        var config = Path.Combine(directory, "prometheus.yml");
        await File.WriteAllTextAsync(config, $"""
            global:
              scrape_interval: 1s
            scrape_configs:
              - job_name: tools
                http_sd_configs:
                  - url: {new Uri(Platform.WebUrl, "/api/v1/application")}
                    refresh_interval: 1s
                    basic_auth:
                      username: prometheus
                      password: {JsonSerializer.Serialize(password)}
            """, Cancel);
        var port = Ports.Free();
        using var server = Process.Start(new ProcessStartInfo(prometheus)
        {
            ArgumentList = { $"--config.file={config}", $"--storage.tsdb.path={Path.Combine(directory, "data")}", $"--web.listen-address=127.0.0.1:{port}" },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var output = new System.Collections.Concurrent.ConcurrentQueue<string>();
        server.OutputDataReceived += (_, e) => { if (e.Data is not null) output.Enqueue(e.Data); };
        server.ErrorDataReceived += (_, e) => { if (e.Data is not null) output.Enqueue(e.Data); };
        server.BeginOutputReadLine();
        server.BeginErrorReadLine();
        try
        {
            // Prometheus discovers the tool's metrics sidecar with the tool's labels and stores its series.
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Cancel);
            timeout.CancelAfter(TimeSpan.FromMinutes(2));
            JsonElement series;
            while (true)
            {
                Assert.False(server.HasExited, "Prometheus exited: " + string.Join('\n', output));
                try
                {
                    var query = Uri.EscapeDataString($"container_cpu_usage_seconds_total{{tool_host=\"{host}\"}}");
                    var answer = JsonDocument.Parse(await http.GetStringAsync($"api/v1/query?query={query}", timeout.Token)).RootElement;
                    if (answer.GetProperty("data").GetProperty("result").EnumerateArray().FirstOrDefault() is { ValueKind: JsonValueKind.Object } found)
                    {
                        series = found.GetProperty("metric");
                        break;
                    }
                }
                catch (HttpRequestException)
                {
                    // Prometheus is not answering yet.
                }
                catch (OperationCanceledException) when (timeout.IsCancellationRequested && !Cancel.IsCancellationRequested)
                {
                    Assert.Fail("Prometheus did not find the tool's series within two minutes: " + string.Join('\n', output.TakeLast(20)));
                }

                await Task.Delay(500, timeout.Token);
            }

            Assert.Equal("Sample app", series.GetProperty("tool").GetString());
            Assert.Equal(UserHash.Of(userId), series.GetProperty("user_hash").GetString());
            Assert.Equal("tool", series.GetProperty("container").GetString());
            Assert.True(Guid.TryParse(series.GetProperty("instance_id").GetString(), out _));
            var memory = JsonDocument.Parse(await http.GetStringAsync(
                $"api/v1/query?query={Uri.EscapeDataString($"container_memory_working_set_bytes{{tool_host=\"{host}\"}}")}", Cancel)).RootElement;
            Assert.NotEmpty(memory.GetProperty("data").GetProperty("result").EnumerateArray());
        }
        finally
        {
            if (!server.HasExited) server.Kill();
            await server.WaitForExitAsync(Cancel);
            TestDirectories.Delete(directory);
        }
    }

    private static string? Executable(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(directory => Path.Combine(directory, name)).FirstOrDefault(File.Exists);
}
