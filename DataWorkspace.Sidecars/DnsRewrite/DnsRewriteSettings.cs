using System.Globalization;
using System.Net;

namespace DataWorkspace.Sidecars.DnsRewrite;

/// <summary>How the dns-rewrite sidecar runs: its rules, where it listens, where it asks, and its health check.</summary>
public sealed record DnsRewriteSettings(
    IReadOnlyList<RewriteRule> Rules,
    IPEndPoint Upstream,
    IPEndPoint Listen,
    int? HealthPort = null,
    string? HealthName = null)
{
    public const int DnsPort = 53;

    public TimeSpan UpstreamTimeout { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>An IP endpoint from <c>address</c>, <c>address:port</c> or <c>[ipv6]:port</c>; a missing port is 53.</summary>
    public static IPEndPoint? ParseEndPoint(string? text)
    {
        if (string.IsNullOrWhiteSpace(text) || !IPEndPoint.TryParse(text.Trim(), out var endpoint))
            return null;
        if (endpoint.Port == 0)
        {
            // IPEndPoint reads "host:0" and "host" alike; only the latter means the default port.
            if (text.TrimEnd().EndsWith(":0", StringComparison.Ordinal))
                return null;
            endpoint.Port = DnsPort;
        }
        return endpoint;
    }

    /// <summary>Settings from the command line and environment, or the problems with them (all of them, so one run shows every mistake).</summary>
    public static DnsRewriteSettings? Create(
        IReadOnlyList<string> ruleOptions, string? rulesJson, string? upstream, string? listen, string? healthPort, string? healthName, int upstreamTimeoutMilliseconds,
        out IReadOnlyList<string> problems)
    {
        var found = new List<string>();
        var rules = new List<RewriteRule>();
        if (ruleOptions.Count > 0 && !string.IsNullOrWhiteSpace(rulesJson))
        {
            found.Add("Rules come from --rule or from DNS_REWRITE_RULES, not both: remove one.");
        }
        else if (ruleOptions.Count > 0)
        {
            foreach (var text in ruleOptions)
            {
                var rule = RewriteRule.Parse(text, out var problem);
                if (rule is null)
                    found.Add($"--rule {problem}.");
                else
                    rules.Add(rule);
            }
        }
        else if (!string.IsNullOrWhiteSpace(rulesJson))
        {
            rules.AddRange(RewriteRules.ParseJson(rulesJson, out var problem));
            if (problem is not null)
                found.Add($"DNS_REWRITE_RULES cannot be read: {problem}.");
        }
        else
        {
            found.Add("No rules: give at least one --rule 'regex=>replacement' (or DNS_REWRITE_RULES as JSON); without rules every query would be refused.");
        }

        var upstreamEndPoint = ParseEndPoint(upstream);
        if (upstreamEndPoint is null)
            found.Add(string.IsNullOrWhiteSpace(upstream)
                ? "No upstream: give --upstream ADDRESS[:PORT] (or DNS_REWRITE_UPSTREAM), the DNS server that resolves rewritten names."
                : $"--upstream must be an IP address with an optional port, e.g. 10.0.0.2:53 or [fd00::2]:53; '{upstream}' is not.");
        var listenEndPoint = ParseEndPoint(listen);
        if (listenEndPoint is null)
            found.Add($"--listen must be an IP address with an optional port, e.g. 127.0.0.1:53; '{listen}' is not.");

        int? healthPortNumber = null;
        if (!string.IsNullOrWhiteSpace(healthPort))
        {
            if (int.TryParse(healthPort, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is >= 1 and <= 65535)
                healthPortNumber = port;
            else
                found.Add($"--health-port must be a port number from 1 to 65535; '{healthPort}' is not.");
        }
        if (healthPortNumber is not null && string.IsNullOrWhiteSpace(healthName))
            found.Add("--health-port needs --health-name: the name whose resolving the health endpoint checks, e.g. web.dataworkspace.internal.");
        if (healthPortNumber is null && !string.IsNullOrWhiteSpace(healthName))
            found.Add("--health-name needs --health-port: the port of the HTTP health endpoint.");
        if (upstreamTimeoutMilliseconds is < 1 or > 60_000)
            found.Add($"--upstream-timeout-ms must be from 1 to 60000; {upstreamTimeoutMilliseconds} is not.");

        problems = found;
        if (found.Count > 0)
            return null;
        return new DnsRewriteSettings(rules, upstreamEndPoint!, listenEndPoint!, healthPortNumber, string.IsNullOrWhiteSpace(healthName) ? null : healthName.Trim())
        {
            UpstreamTimeout = TimeSpan.FromMilliseconds(upstreamTimeoutMilliseconds),
        };
    }
}
