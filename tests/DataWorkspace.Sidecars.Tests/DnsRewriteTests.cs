using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using DataWorkspace.Sidecars.DnsRewrite;
using DataWorkspace.TestSupport;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using static DataWorkspace.Sidecars.Tests.PrometheusText;

namespace DataWorkspace.Sidecars.Tests;

/// <summary>
/// The dns-rewrite sidecar on a loopback port, asked with <c>dig</c> (and raw packets where dig will not send them),
/// in front of a real authoritative upstream (ARSoft's DNS server serving fixed records).
/// </summary>
public sealed partial class DnsRewriteTests : IAsyncLifetime
{
    private static readonly string[] Rules =
    [
        @"^first\.dataworkspace\.internal$=>second.test",
        @"^(.+)\.dataworkspace\.internal$=>$1.internal-lb.test",
    ];

    // Ports found free can be taken by another process before the sidecar binds them: it then tries others.
    private const int StartAttempts = 5;

    private readonly TestUpstream upstream = new();
    private readonly CollectedLogs logs = new();
    private readonly ConcurrentDictionary<string, long> counters = new();
    private int port;
    private int healthPort;
    private IHost sidecar = null!;
    private MeterListener meters = null!;

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        upstream.Start();
        (sidecar, port, healthPort) = await StartSidecarAsync("health.dataworkspace.internal");
    }

    public async ValueTask DisposeAsync()
    {
        meters?.Dispose();
        await sidecar.StopAsync(CancellationToken.None);
        sidecar.Dispose();
        upstream.Dispose();
    }

    /// <summary>A sidecar in front of <paramref name="upstreamPort"/> (the test upstream if null), started on ports free at the time.</summary>
    private async Task<(IHost Host, int DnsPort, int HttpPort)> StartSidecarAsync(string healthName, int? upstreamPort = null, int upstreamTimeoutMilliseconds = 3000)
    {
        for (var attempt = 1; ; attempt++)
        {
            var (dnsPort, httpPort) = (FreeDnsPort(), Ports.Free());
            var settings = DnsRewriteSettings.Create(Rules, null, $"127.0.0.1:{upstreamPort ?? upstream.Port}", $"127.0.0.1:{dnsPort}", httpPort.ToString(), healthName, upstreamTimeoutMilliseconds, out var problems)
                ?? throw new InvalidOperationException(string.Join(" ", problems));
            var host = DnsRewriteHost.Build(settings, logging => logging.AddProvider(logs).SetMinimumLevel(LogLevel.Debug));
            try
            {
                await host.StartAsync(Cancellation);
            }
            catch (Exception exception) when (attempt < StartAttempts && exception is SocketException or IOException or AddressInUseException)
            {
                await host.StopAsync(CancellationToken.None);
                host.Dispose();
                continue;
            }
            if (meters is null)
            {
                var factory = host.Services.GetRequiredService<IMeterFactory>();
                meters = new MeterListener
                {
                    InstrumentPublished = (instrument, listener) =>
                    {
                        if (instrument.Meter.Scope == factory)
                            listener.EnableMeasurementEvents(instrument);
                    },
                };
                meters.SetMeasurementEventCallback<long>((instrument, value, _, _) => counters.AddOrUpdate(instrument.Name, value, (_, total) => total + value));
                meters.Start();
            }
            return (host, dnsPort, httpPort);
        }
    }

    [Fact]
    public async Task A_matched_name_is_resolved_under_its_rewritten_name_and_answered_under_the_asked_name()
    {
        var a = await DigAsync("web.dataworkspace.internal", "A");
        var aaaa = await DigAsync("Web.DataWorkspace.Internal", "AAAA");

        Assert.Equal("NOERROR", a.Status);
        Assert.Equal(["web.dataworkspace.internal. 300 IN A 10.0.0.1"], a.Answers);
        Assert.Equal("NOERROR", aaaa.Status);
        // The answer keeps the asked name's letter case, as resolvers that randomise it (0x20) check.
        Assert.Equal(["Web.DataWorkspace.Internal. 300 IN AAAA fd00::1"], aaaa.Answers);
        Assert.Contains("web.internal-lb.test A", upstream.Asked);
        Assert.Contains("web.internal-lb.test AAAA", upstream.Asked);
        Assert.Equal(2, counters.GetValueOrDefault("dns_rewrite.answers"));
    }

    [Fact]
    public async Task A_cname_chain_upstream_is_flattened_to_addresses_under_the_asked_name_with_the_chains_lowest_ttl()
    {
        var answer = await DigAsync("alias.dataworkspace.internal", "A");

        Assert.Equal("NOERROR", answer.Status);
        Assert.Equal(["alias.dataworkspace.internal. 60 IN A 10.0.0.2", "alias.dataworkspace.internal. 60 IN A 10.0.0.3"], answer.Answers.Order());
    }

    [Fact]
    public async Task The_first_matching_rule_wins()
    {
        var first = await DigAsync("first.dataworkspace.internal", "A");

        Assert.Equal(["first.dataworkspace.internal. 300 IN A 10.0.0.9"], first.Answers);
        Assert.Contains("second.test A", upstream.Asked);
        Assert.DoesNotContain("first.internal-lb.test A", upstream.Asked);
    }

    [Fact]
    public async Task Names_no_rule_matches_and_types_other_than_A_and_AAAA_are_refused_without_asking_upstream()
    {
        var unmatched = await DigAsync("example.com", "A");
        var outside = await DigAsync("web.dataworkspace.internal.evil.example", "A");
        var mx = await DigAsync("web.dataworkspace.internal", "MX");
        var txt = await DigAsync("web.dataworkspace.internal", "TXT");

        Assert.All([unmatched, outside, mx, txt], answer =>
        {
            Assert.Equal("REFUSED", answer.Status);
            Assert.Empty(answer.Answers);
        });
        Assert.Empty(upstream.Asked);
        Assert.Equal(4, counters.GetValueOrDefault("dns_rewrite.queries"));
        Assert.Equal(4, counters.GetValueOrDefault("dns_rewrite.refused"));
        Assert.Contains(logs.Messages, message => message.Contains("Refused example.com A") && message.Contains("no rule matches the name"));
    }

    [Fact]
    public async Task The_upstreams_nxdomain_and_servfail_are_passed_on()
    {
        var missing = await DigAsync("missing.dataworkspace.internal", "A");
        var broken = await DigAsync("broken.dataworkspace.internal", "A");

        Assert.Equal("NXDOMAIN", missing.Status);
        Assert.Empty(missing.Answers);
        Assert.Equal("SERVFAIL", broken.Status);
        Assert.Contains("missing.internal-lb.test A", upstream.Asked);
        Assert.Contains(logs.Messages, message => message.Contains("Upstream answered NXDOMAIN for missing.internal-lb.test A"));
    }

    [Fact]
    public async Task Queries_over_tcp_are_answered()
    {
        var answer = await DigAsync("web.dataworkspace.internal", "A", "+tcp");
        var refused = await DigAsync("example.com", "A", "+tcp");

        Assert.Equal(["web.dataworkspace.internal. 300 IN A 10.0.0.1"], answer.Answers);
        Assert.Equal("REFUSED", refused.Status);
    }

    [Fact]
    public async Task An_edns_query_of_more_than_512_bytes_is_read_whole_and_answered()
    {
        // A private-use EDNS option of 600 bytes makes the query about 660 bytes long.
        var answer = await DigAsync("web.dataworkspace.internal", "A", $"+ednsopt=65001:{new string('a', 1200)}");

        Assert.Equal("NOERROR", answer.Status);
        Assert.Equal(["web.dataworkspace.internal. 300 IN A 10.0.0.1"], answer.Answers);
        var overTcp = await DigAsync("web.dataworkspace.internal", "A", $"+ednsopt=65001:{new string('a', 1200)}", "+tcp");
        Assert.Equal(["web.dataworkspace.internal. 300 IN A 10.0.0.1"], overTcp.Answers);
    }

    [Fact]
    public async Task A_truncated_query_over_tcp_is_dropped_and_logged_and_the_next_connection_is_answered()
    {
        var whole = Query(0x0102, "web.dataworkspace.internal");

        // A message cut inside its question, whole as far as its length prefix goes.
        using (var cut = new TcpClient())
        {
            await cut.ConnectAsync(IPAddress.Loopback, port, Cancellation);
            var framed = new byte[22];
            BinaryPrimitives.WriteUInt16BigEndian(framed, 20);
            whole.AsSpan(0, 20).CopyTo(framed.AsSpan(2));
            await cut.GetStream().WriteAsync(framed, Cancellation);

            Assert.Equal(0, await cut.GetStream().ReadAsync(new byte[2], Cancellation));
        }

        // A length prefix promising more than the client sends before it stops sending.
        using (var unfinished = new TcpClient())
        {
            await unfinished.ConnectAsync(IPAddress.Loopback, port, Cancellation);
            var framed = new byte[2 + whole.Length - 10];
            BinaryPrimitives.WriteUInt16BigEndian(framed, (ushort)whole.Length);
            whole.AsSpan(0, whole.Length - 10).CopyTo(framed.AsSpan(2));
            var stream = unfinished.GetStream();
            await stream.WriteAsync(framed, Cancellation);
            unfinished.Client.Shutdown(SocketShutdown.Send);

            Assert.Equal(0, await stream.ReadAsync(new byte[2], Cancellation));
        }

        await WaitUntilAsync(() => counters.GetValueOrDefault("dns_rewrite.malformed") == 2);
        Assert.Contains(logs.Messages, message => message.Contains("Dropped a tcp packet of 20 bytes") && message.Contains("its question cannot be read"));
        Assert.Contains(logs.Messages, message => message.Contains($"Dropped a tcp packet of {whole.Length} bytes") && message.Contains("cut short"));
        Assert.Equal(["web.dataworkspace.internal. 300 IN A 10.0.0.1"], (await DigAsync("web.dataworkspace.internal", "A", "+tcp")).Answers);
    }

    [Fact]
    public async Task An_answer_too_big_for_plain_udp_is_sent_truncated_there_and_whole_over_tcp()
    {
        var udp = await DigAsync("many.dataworkspace.internal", "A", "+noedns", "+ignore");
        var tcp = await DigAsync("many.dataworkspace.internal", "A", "+noedns", "+tcp");
        var edns = await DigAsync("many.dataworkspace.internal", "A", "+bufsize=1232");

        Assert.Contains("tc", udp.Flags);
        Assert.InRange(udp.Answers.Length, 0, 39);
        Assert.DoesNotContain("tc", tcp.Flags);
        Assert.Equal(40, tcp.Answers.Length);
        Assert.All(tcp.Answers, answer => Assert.StartsWith("many.dataworkspace.internal. 300 IN A 10.1.0.", answer));
        Assert.DoesNotContain("tc", edns.Flags);
        Assert.Equal(40, edns.Answers.Length);
    }

    [Fact]
    public async Task An_upstream_answer_truncated_over_udp_is_fetched_again_over_tcp()
    {
        // 100 addresses do not fit the 1232 bytes the sidecar accepts over UDP, so the upstream sets TC.
        var answer = await DigAsync("huge.dataworkspace.internal", "A", "+tcp");

        Assert.Equal("NOERROR", answer.Status);
        Assert.Equal(100, answer.Answers.Length);
        Assert.Equal(2, upstream.Asked.Count(asked => asked == "huge.internal-lb.test A"));
    }

    [Fact]
    public async Task A_silent_upstream_gives_servfail_and_an_unhealthy_health_endpoint()
    {
        var (silent, dnsPort, httpPort) = await StartSidecarAsync("health.dataworkspace.internal", upstreamPort: FreeDnsPort(), upstreamTimeoutMilliseconds: 300);
        using var disposeSilent = silent;
        using var http = new HttpClient();

        var answer = await DigAsync(dnsPort, "web.dataworkspace.internal", "A");
        using var health = await http.GetAsync($"http://127.0.0.1:{httpPort}/health", Cancellation);
        await silent.StopAsync(CancellationToken.None);

        Assert.Equal("SERVFAIL", answer.Status);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);
        Assert.Contains("the upstream did not answer", await health.Content.ReadAsStringAsync(Cancellation));
        Assert.Contains(logs.Messages, message => message.Contains("did not answer for web.internal-lb.test A within 300 ms"));
    }

    [Fact]
    public async Task Garbage_over_udp_is_dropped_and_logged_and_the_next_query_is_answered()
    {
        using var client = new UdpClient(AddressFamily.InterNetwork);
        client.Connect(IPAddress.Loopback, port);
        await client.SendAsync(Encoding.ASCII.GetBytes("this is not a DNS query at all"), Cancellation);
        await client.SendAsync(new byte[] { 1, 2, 3, 4, 5 }, Cancellation);
        var response = Query(0x0b0b, "web.dataworkspace.internal");
        response[2] |= 0x80;
        await client.SendAsync(response, Cancellation);
        await client.SendAsync(Query(0x1234, "web.dataworkspace.internal"), Cancellation);

        // Nothing answers the three bad packets, so the first datagram back is the answer to the good query.
        var reply = await client.ReceiveAsync(Cancellation);

        Assert.Equal(0x1234, BinaryPrimitives.ReadUInt16BigEndian(reply.Buffer));
        Assert.Equal(ReturnCode.NoError, DnsMessage.Parse(reply.Buffer).ReturnCode);
        Assert.Equal(3, counters.GetValueOrDefault("dns_rewrite.malformed"));
        Assert.Contains(logs.Messages, message => message.Contains("Dropped a udp packet of 30 bytes") && message.Contains("its question cannot be read"));
        Assert.Contains(logs.Messages, message => message.Contains("Dropped a udp packet of 5 bytes") && message.Contains("shorter than a DNS header"));
        Assert.Contains(logs.Messages, message => message.Contains("a response, not a query"));
        Assert.Equal("NOERROR", (await DigAsync("web.dataworkspace.internal", "A")).Status);
    }

    [Fact]
    public async Task A_truncated_query_is_dropped_and_the_next_query_is_answered()
    {
        using var client = new UdpClient(AddressFamily.InterNetwork);
        client.Connect(IPAddress.Loopback, port);
        var whole = Query(0x0101, "web.dataworkspace.internal", withEdns: true);
        // Cut inside the question, and cut inside the EDNS record after a whole question.
        await client.SendAsync(whole[..20], Cancellation);
        await client.SendAsync(whole[..(whole.Length - 5)], Cancellation);
        await client.SendAsync(Query(0x2345, "web.dataworkspace.internal"), Cancellation);

        var reply = await client.ReceiveAsync(Cancellation);

        Assert.Equal(0x2345, BinaryPrimitives.ReadUInt16BigEndian(reply.Buffer));
        await WaitUntilAsync(() => counters.GetValueOrDefault("dns_rewrite.malformed") == 2);
        Assert.Contains(logs.Messages, message => message.Contains("Dropped a udp packet of 20 bytes"));
        Assert.Contains(logs.Messages, message => message.Contains("Dropped a query that could not be parsed"));
    }

    [Fact]
    public async Task A_name_of_300_labels_is_dropped_over_udp_and_tcp_and_a_name_over_255_bytes_is_answered_formerr()
    {
        var labels = Enumerable.Repeat("a", 300).Append("dataworkspace").Append("internal");
        var threeHundredLabels = Query(0x0300, string.Join('.', labels));
        var tooLong = Query(0x0255, string.Join('.', Enumerable.Repeat(new string('b', 63), 4).Append("dataworkspace").Append("internal")));

        using (var udp = new UdpClient(AddressFamily.InterNetwork))
        {
            udp.Connect(IPAddress.Loopback, port);
            await udp.SendAsync(threeHundredLabels, Cancellation);
            await udp.SendAsync(tooLong, Cancellation);
            var reply = DnsMessage.Parse((await udp.ReceiveAsync(Cancellation)).Buffer);

            Assert.Equal(0x0255, reply.TransactionID);
            Assert.Equal(ReturnCode.FormatError, reply.ReturnCode);
            Assert.Empty(reply.Questions);
        }

        using (var tcp = new TcpClient())
        {
            await tcp.ConnectAsync(IPAddress.Loopback, port, Cancellation);
            var stream = tcp.GetStream();
            var framed = new byte[threeHundredLabels.Length + 2];
            BinaryPrimitives.WriteUInt16BigEndian(framed, (ushort)threeHundredLabels.Length);
            threeHundredLabels.CopyTo(framed, 2);
            await stream.WriteAsync(framed, Cancellation);

            // The server hangs up: the stream cannot be trusted past a message that is not one.
            Assert.Equal(0, await stream.ReadAsync(new byte[2], Cancellation));
        }

        Assert.Equal(2, counters.GetValueOrDefault("dns_rewrite.malformed"));
        Assert.Contains(logs.Messages, message => message.Contains($"Dropped a udp packet of {threeHundredLabels.Length} bytes"));
        Assert.Contains(logs.Messages, message => message.Contains("Dropped a tcp packet"));
        Assert.Equal("NOERROR", (await DigAsync("web.dataworkspace.internal", "A")).Status);
        Assert.Equal("NOERROR", (await DigAsync("web.dataworkspace.internal", "A", "+tcp")).Status);
    }

    [Fact]
    public async Task The_health_endpoint_is_ok_while_its_name_resolves_and_fails_saying_why_when_it_does_not()
    {
        using var http = new HttpClient();
        using var healthy = await http.GetAsync($"http://127.0.0.1:{healthPort}/health", Cancellation);

        var (missing, _, missingPort) = await StartSidecarAsync("missing.dataworkspace.internal");
        var (unmatched, _, unmatchedPort) = await StartSidecarAsync("example.com");
        try
        {
            using var nxdomain = await http.GetAsync($"http://127.0.0.1:{missingPort}/health", Cancellation);
            using var noRule = await http.GetAsync($"http://127.0.0.1:{unmatchedPort}/health", Cancellation);

            Assert.Equal(HttpStatusCode.OK, healthy.StatusCode);
            Assert.Contains("health.dataworkspace.internal resolves to 10.0.0.7", await healthy.Content.ReadAsStringAsync(Cancellation));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, nxdomain.StatusCode);
            Assert.Contains("the upstream answered NXDOMAIN", await nxdomain.Content.ReadAsStringAsync(Cancellation));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, noRule.StatusCode);
            Assert.Contains("example.com matches no rule", await noRule.Content.ReadAsStringAsync(Cancellation));
        }
        finally
        {
            await missing.StopAsync(CancellationToken.None);
            missing.Dispose();
            await unmatched.StopAsync(CancellationToken.None);
            unmatched.Dispose();
        }
    }

    [Fact]
    public async Task The_health_port_serves_the_query_counters_by_outcome_as_prometheus_text()
    {
        using var http = new HttpClient();
        var before = Parse(await http.GetStringAsync($"http://127.0.0.1:{healthPort}/metrics", Cancellation));
        await DigAsync("web.dataworkspace.internal", "A");
        await DigAsync("web.dataworkspace.internal", "AAAA");
        await DigAsync("example.com", "A");
        await DigAsync("missing.dataworkspace.internal", "A", "+tcp");
        var text = await http.GetStringAsync($"http://127.0.0.1:{healthPort}/metrics", Cancellation);
        var after = Parse(text);

        Assert.DoesNotContain(before, series => series.Name.StartsWith("dns_rewrite_", StringComparison.Ordinal));
        Assert.Equal(3, Value(after, "dns_rewrite_queries_total", KeyValuePair.Create("transport", "udp")));
        Assert.Equal(1, Value(after, "dns_rewrite_queries_total", KeyValuePair.Create("transport", "tcp")));
        Assert.Equal(1, Value(after, "dns_rewrite_answers_total", KeyValuePair.Create("record_type", "A")));
        Assert.Equal(1, Value(after, "dns_rewrite_answers_total", KeyValuePair.Create("record_type", "AAAA")));
        Assert.Equal(1, Value(after, "dns_rewrite_refused_total", KeyValuePair.Create("reason", "no_rule")));
        Assert.Equal(1, Value(after, "dns_rewrite_errors_total", KeyValuePair.Create("rcode", "NXDOMAIN")));
        Assert.Equal(1, Value(after, "target_info", KeyValuePair.Create("service_name", "dataworkspace-dns-rewrite-sidecar")));
        await AssertPromtoolAcceptsAsync(text);
    }

    [Fact]
    public async Task The_command_answers_until_sigterm_then_stops_cleanly_with_json_logs()
    {
        var (process, dnsPort, output, errors) = await StartCommandAsync();
        using var disposeProcess = process;

        var answer = await DigAsync(dnsPort, "web.dataworkspace.internal", "A");
        using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString()]))
            await kill.WaitForExitAsync(Cancellation);
        await process.WaitForExitAsync(Cancellation);

        Assert.Equal(["web.dataworkspace.internal. 300 IN A 10.0.0.1"], answer.Answers);
        Assert.Equal(0, process.ExitCode);
        Assert.Equal("", await errors);
        string[] lines;
        lock (output)
            lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.All(lines, line => Assert.StartsWith("{", line));
        Assert.Contains(lines, line => line.Contains("\"Category\":\"DataWorkspace.Sidecars.DnsRewrite.DnsRewriteServer\"") && line.Contains("dns-rewrite stopped"));
    }

    [Fact]
    public async Task With_an_otlp_endpoint_set_the_command_sends_its_counters_and_logs_there()
    {
        await using var collector = await OtlpCollector.StartAsync();
        var (process, dnsPort, output, _) = await StartCommandAsync(new()
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.Url,
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_METRIC_EXPORT_INTERVAL"] = "200",
            ["OTEL_BLRP_SCHEDULE_DELAY"] = "200",
        });
        using var disposeProcess = process;
        try
        {
            var answer = await DigAsync(dnsPort, "web.dataworkspace.internal", "A");

            Assert.Equal("NOERROR", answer.Status);
            // Protocol buffers keep strings as they are: the counter's name, the service and the log line are readable in the bodies.
            await WaitUntilAsync(() => collector.Received("/v1/metrics", "dns_rewrite.answers") && collector.Received("/v1/logs", $"dns-rewrite listening on 127.0.0.1:{dnsPort}"));
            Assert.True(collector.Received("/v1/metrics", "dataworkspace-dns-rewrite-sidecar"));
        }
        finally
        {
            using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString()]))
                await kill.WaitForExitAsync(CancellationToken.None);
            await process.WaitForExitAsync(CancellationToken.None);
        }
        Assert.Equal(0, process.ExitCode);
    }

    [Fact]
    public async Task The_command_explains_its_rules_with_an_example_and_rejects_bad_settings_saying_what_to_do()
    {
        var help = await RunSidecarAsync("dns-rewrite", "--help");
        var bad = await RunSidecarAsync("dns-rewrite", "--rule", "^(unclosed=>x", "--rule", "no-arrow", "--upstream", "dns.example");
        var none = await RunSidecarAsync("dns-rewrite", "--upstream", "127.0.0.1");

        Assert.Equal(0, help.ExitCode);
        Assert.Contains(@"--rule '^(.+)\.dataworkspace\.internal$=>", help.Output);
        Assert.Contains("DNS_REWRITE_RULES", help.Output);
        Assert.Equal(DnsRewriteCommand.BadSettingsExitCode, bad.ExitCode);
        Assert.Contains("'^(unclosed' is not a valid .NET regular expression", bad.Output);
        Assert.Contains("'no-arrow' is not of the form 'regex=>replacement'", bad.Output);
        Assert.Contains("--upstream must be an IP address", bad.Output);
        Assert.Equal(DnsRewriteCommand.BadSettingsExitCode, none.ExitCode);
        Assert.Contains("No rules", none.Output);
    }

    /// <summary>The dns-rewrite command as a process, listening on a port free at the time: another is tried if it cannot listen there.</summary>
    private async Task<(Process Process, int DnsPort, StringBuilder Output, Task<string> Errors)> StartCommandAsync(Dictionary<string, string>? environment = null)
    {
        for (var attempt = 1; ; attempt++)
        {
            var dnsPort = FreeDnsPort();
            var executable = Path.Combine(AppContext.BaseDirectory, "dataworkspace-sidecar.dll");
            var start = new ProcessStartInfo("dotnet", [executable, "dns-rewrite", "--listen", $"127.0.0.1:{dnsPort}", "--upstream", $"127.0.0.1:{upstream.Port}"])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            start.Environment["DNS_REWRITE_RULES"] = """[{"pattern": "^(.+)\\.dataworkspace\\.internal$", "replacement": "$1.internal-lb.test"}]""";
            foreach (var (name, value) in environment ?? [])
                start.Environment[name] = value;
            var process = Process.Start(start)!;
            var output = new StringBuilder();
            var listening = new TaskCompletionSource();
            process.OutputDataReceived += (_, line) =>
            {
                lock (output)
                    output.AppendLine(line.Data);
                if (line.Data?.Contains("listening on") == true)
                    listening.TrySetResult();
            };
            process.BeginOutputReadLine();
            var errors = process.StandardError.ReadToEndAsync(Cancellation);
            await Task.WhenAny(listening.Task, process.WaitForExitAsync(Cancellation)).WaitAsync(TimeSpan.FromSeconds(60), Cancellation);
            if (listening.Task.IsCompleted)
                return (process, dnsPort, output, errors);
            await process.WaitForExitAsync(Cancellation);
            if (process.ExitCode != DnsRewriteCommand.CannotListenExitCode || attempt == StartAttempts)
                Assert.Fail($"dns-rewrite exited with {process.ExitCode} before listening: {output}{await errors}");
            process.Dispose();
        }
    }

    private Task<DigAnswer> DigAsync(string name, string type, params string[] options) => DigAsync(port, name, type, options);

    private static async Task<DigAnswer> DigAsync(int dnsPort, string name, string type, params string[] options)
    {
        string[] arguments = ["@127.0.0.1", "-p", dnsPort.ToString(), "+tries=1", "+time=10", "+noall", "+comments", "+answer", name, type, .. options];
        ProcessStartInfo start;
        try
        {
            start = new ProcessStartInfo("dig", arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
            using var process = Process.Start(start)!;
            var output = await process.StandardOutput.ReadToEndAsync(Cancellation);
            var error = await process.StandardError.ReadToEndAsync(Cancellation);
            await process.WaitForExitAsync(Cancellation);
            var status = StatusLine().Match(output);
            Assert.True(status.Success, $"dig {string.Join(' ', arguments)} printed no status: {output}{error}");
            var answers = output.Split('\n')
                .Where(line => line.Length > 0 && !line.StartsWith(';'))
                .Select(line => string.Join(' ', line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries)))
                .ToArray();
            var flags = FlagsLine().Match(output).Groups[1].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return new DigAnswer(status.Groups[1].Value, answers, flags);
        }
        catch (System.ComponentModel.Win32Exception)
        {
            throw new InvalidOperationException("These tests need dig: install Debian's dnsutils (./dw test does).");
        }
    }

    private static async Task<(int ExitCode, string Output)> RunSidecarAsync(params string[] arguments)
    {
        var executable = Path.Combine(AppContext.BaseDirectory, "dataworkspace-sidecar.dll");
        using var process = Process.Start(new ProcessStartInfo("dotnet", [executable, .. arguments])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var output = process.StandardOutput.ReadToEndAsync(Cancellation);
        var error = process.StandardError.ReadToEndAsync(Cancellation);
        await process.WaitForExitAsync(Cancellation);
        return (process.ExitCode, await output + await error);
    }

    /// <summary>A query for <paramref name="name"/> A written by hand, so that names dig refuses to send can be sent.</summary>
    private static byte[] Query(ushort id, string name, bool withEdns = false)
    {
        var bytes = new List<byte>();
        bytes.AddRange([(byte)(id >> 8), (byte)id, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, (byte)(withEdns ? 1 : 0)]);
        foreach (var label in name.Split('.'))
        {
            bytes.Add((byte)label.Length);
            bytes.AddRange(Encoding.ASCII.GetBytes(label));
        }
        bytes.AddRange([0, 0, 1, 0, 1]);
        if (withEdns)
            bytes.AddRange([0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]);
        return [.. bytes];
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Cancellation);
        deadline.CancelAfter(TimeSpan.FromSeconds(30));
        while (!condition())
            await Task.Delay(20, deadline.Token);
    }

    /// <summary>A loopback port free for both UDP and TCP, as a DNS server needs.</summary>
    private static int FreeDnsPort()
    {
        while (true)
        {
            var candidate = Ports.Free();
            try
            {
                using var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
                udp.Bind(new IPEndPoint(IPAddress.Loopback, candidate));
                return candidate;
            }
            catch (SocketException)
            {
            }
        }
    }

    [GeneratedRegex(@"status: ([A-Z]+)")]
    private static partial Regex StatusLine();

    [GeneratedRegex(@";; flags: ([a-z ]*);")]
    private static partial Regex FlagsLine();

    private sealed record DigAnswer(string Status, string[] Answers, string[] Flags);

    /// <summary>An authoritative server for the rewritten names: fixed records, a CNAME chain, NXDOMAIN and SERVFAIL.</summary>
    private sealed class TestUpstream : IDisposable
    {
        private DnsServer? server;

        public int Port { get; private set; }

        public ConcurrentQueue<string> Asked { get; } = new();

        /// <summary>Starts on a port free at the time, trying another if it was taken meanwhile.</summary>
        public void Start()
        {
            for (var attempt = 1; ; attempt++)
            {
                Port = FreeDnsPort();
                var endpoint = new IPEndPoint(IPAddress.Loopback, Port);
                try
                {
                    server = new DnsServer(new UdpServerTransport(endpoint), new TcpServerTransport(endpoint));
                    server.QueryReceived += (_, e) =>
                    {
                        var query = (DnsMessage)e.Query;
                        var question = query.Questions[0];
                        var name = question.Name.ToString(false).ToLowerInvariant();
                        Asked.Enqueue($"{name} {question.RecordType.ToString().ToUpperInvariant()}");
                        var response = query.CreateResponseInstance();
                        response.IsAuthoritiveAnswer = true;
                        Answer(response, question.Name, name, question.RecordType);
                        e.Response = response;
                        return Task.CompletedTask;
                    };
                    server.Start();
                    return;
                }
                catch (SocketException) when (attempt < StartAttempts)
                {
                    (server as IDisposable)?.Dispose();
                    server = null;
                }
            }
        }

        private static void Answer(DnsMessage response, DomainName asked, string name, RecordType type)
        {
            var records = response.AnswerRecords;
            switch (name)
            {
                case "web.internal-lb.test" when type == RecordType.A:
                    records.Add(new ARecord(asked, 300, IPAddress.Parse("10.0.0.1")));
                    break;
                case "web.internal-lb.test" when type == RecordType.Aaaa:
                    records.Add(new AaaaRecord(asked, 300, IPAddress.Parse("fd00::1")));
                    break;
                case "alias.internal-lb.test" when type == RecordType.A:
                    var step = DomainName.Parse("step.internal-lb.test");
                    var target = DomainName.Parse("target.internal-lb.test");
                    records.Add(new CNameRecord(asked, 120, step));
                    records.Add(new CNameRecord(step, 60, target));
                    records.Add(new ARecord(target, 300, IPAddress.Parse("10.0.0.2")));
                    records.Add(new ARecord(target, 300, IPAddress.Parse("10.0.0.3")));
                    // An address for another name must not be passed off as the asked name's.
                    records.Add(new ARecord(DomainName.Parse("other.internal-lb.test"), 300, IPAddress.Parse("10.9.9.9")));
                    break;
                case "many.internal-lb.test" when type == RecordType.A:
                    for (var host = 1; host <= 40; host++)
                        records.Add(new ARecord(asked, 300, new IPAddress([10, 1, 0, (byte)host])));
                    break;
                case "huge.internal-lb.test" when type == RecordType.A:
                    for (var host = 1; host <= 100; host++)
                        records.Add(new ARecord(asked, 300, new IPAddress([10, 2, 0, (byte)host])));
                    break;
                case "second.test" when type == RecordType.A:
                    records.Add(new ARecord(asked, 300, IPAddress.Parse("10.0.0.9")));
                    break;
                case "health.internal-lb.test" when type == RecordType.A:
                    records.Add(new ARecord(asked, 300, IPAddress.Parse("10.0.0.7")));
                    break;
                case "broken.internal-lb.test":
                    response.ReturnCode = ReturnCode.ServerFailure;
                    break;
                case "web.internal-lb.test" or "alias.internal-lb.test" or "many.internal-lb.test" or "huge.internal-lb.test" or "second.test" or "health.internal-lb.test":
                    break;
                default:
                    response.ReturnCode = ReturnCode.NxDomain;
                    break;
            }
        }

        public void Dispose() => (server as IDisposable)?.Dispose();
    }

    /// <summary>An OTLP/HTTP receiver on a loopback port: keeps each request's path and body as sent.</summary>
    private sealed class OtlpCollector : IAsyncDisposable
    {
        private readonly WebApplication app;
        private readonly ConcurrentQueue<(string Path, byte[] Body)> requests = new();

        private OtlpCollector(WebApplication app) => this.app = app;

        public string Url => app.Urls.First();

        public static async Task<OtlpCollector> StartAsync()
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            var collector = new OtlpCollector(builder.Build());
            collector.app.MapPost("/v1/{signal}", async (HttpRequest request) =>
            {
                using var body = new MemoryStream();
                await request.Body.CopyToAsync(body);
                collector.requests.Enqueue((request.Path.Value!, body.ToArray()));
                return Results.Bytes([], "application/x-protobuf");
            });
            await collector.app.StartAsync(Cancellation);
            return collector;
        }

        public bool Received(string path, string text)
        {
            var bytes = Encoding.UTF8.GetBytes(text);
            return requests.Any(request => request.Path == path && request.Body.AsSpan().IndexOf(bytes) >= 0);
        }

        public async ValueTask DisposeAsync() => await app.DisposeAsync();
    }

    /// <summary>Keeps every log message, so a test can check what an operator would read.</summary>
    private sealed class CollectedLogs : ILoggerProvider
    {
        public ConcurrentQueue<string> Messages { get; } = new();

        public ILogger CreateLogger(string categoryName) => new Logger(this);

        public void Dispose()
        {
        }

        private sealed class Logger(CollectedLogs logs) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                logs.Messages.Enqueue(formatter(state, exception));
        }
    }
}
