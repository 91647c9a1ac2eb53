using System.CommandLine;
using System.Net.Sockets;
using DataWorkspace.Sidecars.DnsRewrite;
using Microsoft.Extensions.Hosting;

namespace DataWorkspace.Sidecars;

/// <summary><c>dns-rewrite --rule 'regex=&gt;replacement' --upstream ADDRESS[:PORT]</c>: the tools' DNS server, run until stopped.</summary>
public static class DnsRewriteCommand
{
    public const int BadSettingsExitCode = SidecarHosting.BadSettingsExitCode;
    public const int CannotListenExitCode = SidecarHosting.CannotStartExitCode;

    private const string Description = """
        Answers the tools' DNS queries, allowing only the names the rules permit. Rules are tried in order and the first
        whose .NET regular expression matches the asked name (lower case, no final dot) wins: the name is rewritten with
        Regex.Replace ($1 for a group), looked up upstream, and the addresses are answered under the asked name (A and
        AAAA; CNAME chains flattened). Names no rule matches, and all other query types, are answered REFUSED; the
        upstream's errors (NXDOMAIN, SERVFAIL...) are passed on; packets that are not DNS queries are dropped and logged.
        Logs are JSON lines on standard output; the counters are on the meter DataWorkspace.Sidecars.DnsRewrite, as
        Prometheus text at GET /metrics on the health port, and sent with the logs over OTLP when
        OTEL_EXPORTER_OTLP_ENDPOINT is set.

        Every option can instead come from the environment: DNS_REWRITE_RULES (a JSON array of
        {"pattern": ..., "replacement": ...} objects), DNS_REWRITE_UPSTREAM, DNS_REWRITE_LISTEN, DNS_REWRITE_HEALTH_PORT,
        DNS_REWRITE_HEALTH_NAME.

        Example, as in Data Workspace: every tool name under dataworkspace.internal goes to the internal load balancer,
        and the health endpoint checks that one such name resolves:
          dataworkspace-sidecar dns-rewrite --listen 0.0.0.0:53 --upstream 10.0.0.2:53 \
            --rule '^(.+)\.dataworkspace\.internal$=>internal-dataworkspace-tools.eu-west-2.elb.amazonaws.com' \
            --health-port 8053 --health-name health.dataworkspace.internal
          curl http://127.0.0.1:8053/health
        """;

    public static Command Create()
    {
        var rules = new Option<string[]>("--rule")
        {
            Description = "A rule 'regex=>replacement', e.g. '^(.+)\\.dataworkspace\\.internal$=>$1.tools.internal'; repeat for more, tried in order",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var upstream = new Option<string?>("--upstream")
        {
            Description = "The DNS server that resolves rewritten names, ADDRESS[:PORT] (port 53 if omitted) [env DNS_REWRITE_UPSTREAM]",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("DNS_REWRITE_UPSTREAM"),
        };
        var listen = new Option<string>("--listen")
        {
            Description = "The address and port to answer on, UDP and TCP [env DNS_REWRITE_LISTEN]",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("DNS_REWRITE_LISTEN") is { Length: > 0 } value ? value : "127.0.0.1:53",
        };
        var healthPort = new Option<string?>("--health-port")
        {
            Description = $"Serve GET {DnsRewriteHost.HealthPath} over HTTP on this port of the listen address; no endpoint if omitted [env DNS_REWRITE_HEALTH_PORT]",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("DNS_REWRITE_HEALTH_PORT"),
        };
        var healthName = new Option<string?>("--health-name")
        {
            Description = "The name the health endpoint resolves through the rules and the upstream: 200 if it has an address, 503 if not [env DNS_REWRITE_HEALTH_NAME]",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("DNS_REWRITE_HEALTH_NAME"),
        };
        var upstreamTimeout = new Option<int>("--upstream-timeout-ms")
        {
            Description = "How long to wait for the upstream before answering SERVFAIL",
            DefaultValueFactory = _ => 3000,
        };
        var command = new Command("dns-rewrite", Description) { rules, upstream, listen, healthPort, healthName, upstreamTimeout };
        command.SetAction(async (parseResult, cancellationToken) =>
        {
            var settings = DnsRewriteSettings.Create(
                parseResult.GetValue(rules) ?? [],
                Environment.GetEnvironmentVariable("DNS_REWRITE_RULES"),
                parseResult.GetValue(upstream),
                parseResult.GetValue(listen),
                parseResult.GetValue(healthPort),
                parseResult.GetValue(healthName),
                parseResult.GetValue(upstreamTimeout),
                out var problems);
            if (settings is null) return SidecarHosting.BadSettings(problems, "dns-rewrite");

            using var host = DnsRewriteHost.Build(settings);
            return await SidecarHosting.RunAsync(host, $"dns-rewrite cannot listen on {settings.Listen} (DNS) or port {settings.HealthPort} (health)", cancellationToken);
        });
        return command;
    }
}
