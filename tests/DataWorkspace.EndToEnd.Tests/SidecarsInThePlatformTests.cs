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
        // Its health name must resolve at this machine's nameserver: where it cannot, say so rather than wait a minute.
        try
        {
            await Dns.GetHostAddressesAsync("registry.npmjs.org", Cancel);
        }
        catch (SocketException exception)
        {
            Assert.Fail($"This machine cannot resolve registry.npmjs.org ({exception.Message}), the dns-rewrite resource's health name: "
                + "set DnsRewrite:HealthName in DataWorkspace.AppHost/appsettings.json to a name this machine's nameserver resolves.");
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
            Assert.Fail("Prometheus is not installed: ./dw test installs it (on Debian: apt-get install prometheus).");
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

    [Fact]
    public async Task A_file_in_a_local_tools_home_reaches_the_users_s3_prefix_and_comes_back_after_a_restart_on_an_empty_folder()
    {
        const string email = "morgan.lee@trade.example";
        using var client = Platform.Client();
        await client.SignInAsync(email, cancellationToken: Cancel);
        var userId = (await Platform.CatalogueScalarAsync<string>("SELECT id FROM users WHERE email = $1", email))!;
        await Platform.CatalogueScalarAsync<object>(
            "INSERT INTO tools_permissions (user_id, source, granted_at, granted_by) VALUES ($1, 'Admin', now(), 'test') ON CONFLICT DO NOTHING", userId);
        var hash = UserHash.Of(userId);
        var folder = Path.Combine(Platform.DataDirectory, "tools", $"files-{hash}");
        var portal = Platform.PortalUrl.GetLeftPart(UriPartial.Authority);

        async Task ChangeAsync(string action, string state)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/v1/tools/files/{action}") { Content = new StringContent("{}", System.Text.Encoding.UTF8, "application/json") };
            request.Headers.TryAddWithoutValidation("Origin", portal);
            using var response = await client.Http.SendAsync(request, Cancel);
            Assert.True(response.IsSuccessStatusCode, $"{action}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(Cancel)}");
            await UntilAsync($"the files tool {state}", async () =>
                JsonDocument.Parse(await client.Http.GetStringAsync("/api/v1/tools", Cancel)).RootElement.EnumerateArray()
                    .Single(t => t.GetProperty("hostBasename").GetString() == "files").GetProperty("state").GetString() == state);
        }

        await ChangeAsync("start", "Running");
        await File.WriteAllTextAsync(Path.Combine(folder, "note.txt"), "kept in S3", Cancel);

        // The tool's s3sync sends it to the user's home prefix in the emulator.
        using var emulator = new HttpClient();
        // moto lists a bucket without credentials, though it will not hand out a private object without them.
        var listing = new Uri(Platform.App.GetEndpoint("aws", "http"), $"dataworkspace-local?list-type=2&prefix=home/{hash}/");
        await UntilAsync("note.txt in S3", async () =>
        {
            var listed = System.Xml.Linq.XDocument.Parse(await emulator.GetStringAsync(listing, Cancel)).Descendants().Where(e => e.Name.LocalName == "Contents");
            return listed.Any(c => c.Elements().Any(e => e.Name.LocalName == "Key" && e.Value == $"home/{hash}/note.txt")
                && c.Elements().Any(e => e.Name.LocalName == "Size" && e.Value == "10"));
        });

        // Stopped (its sidecars with it), its folder gone, and started again: the file is back in the tool's home.
        await ChangeAsync("stop", "Stopped");
        await UntilAsync("its s3sync stopped", () => Task.FromResult(!SidecarProcesses.RunFor(folder)));
        Directory.Delete(folder, recursive: true);
        await ChangeAsync("start", "Running");
        await UntilAsync("note.txt back in the tool's home", () => Task.FromResult(File.Exists(Path.Combine(folder, "note.txt"))));
        Assert.Equal("kept in S3", await File.ReadAllTextAsync(Path.Combine(folder, "note.txt"), Cancel));
        await ChangeAsync("stop", "Stopped");
    }

    /// <summary>Asks until <paramref name="condition"/> holds; two minutes without it fails the test with what was awaited.</summary>
    private static async Task UntilAsync(string what, Func<Task<bool>> condition)
    {
        using var patience = CancellationTokenSource.CreateLinkedTokenSource(Cancel);
        patience.CancelAfter(TimeSpan.FromMinutes(2));
        while (!await condition())
        {
            try
            {
                await Task.Delay(200, patience.Token);
            }
            catch (OperationCanceledException) when (!Cancel.IsCancellationRequested)
            {
                Assert.Fail($"Still waiting for {what} after two minutes.");
            }
        }
    }

    private static string? Executable(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(directory => Path.Combine(directory, name)).FirstOrDefault(File.Exists);
}
