using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.Extensions.Configuration;

namespace DataWorkspace.AppHost.Infrastructure;

/// <summary>
/// The tools' DNS server when running locally: the sidecars build's <c>dns-rewrite</c> command on a free loopback port,
/// answering only the names the <c>DnsRewrite</c> section's rules allow, looked up at this machine's first nameserver.
/// Its <c>/health</c> resolves <c>DnsRewrite:HealthName</c> through the rules.
/// </summary>
public static class LocalDnsRewrite
{
    public const string Section = "DnsRewrite";

    /// <summary>The resource, or null (with the reason) when it cannot run here: no nameserver to ask, or no rules.</summary>
    public static IResourceBuilder<ExecutableResource>? AddLocalDnsRewrite(this IDistributedApplicationBuilder builder, string name, string sidecars, out string? skipped)
    {
        var settings = builder.Configuration.GetSection(Section);
        var rules = Rules(settings);
        var healthName = settings["HealthName"];
        var upstream = FirstNameserver(settings["ResolvConf"] ?? "/etc/resolv.conf");
        skipped = upstream is null ? $"there is no nameserver line in {settings["ResolvConf"] ?? "/etc/resolv.conf"} to look names up at"
            : rules.Count == 0 ? $"the {Section}:Rules configuration is empty, so every name would be refused"
            : string.IsNullOrWhiteSpace(healthName) ? $"{Section}:HealthName is not set: the name /health resolves to say the server works"
            : null;
        if (skipped is not null) return null;

        var port = FreeDnsPort();
        return builder.AddExecutable(name, "dotnet", builder.AppHostDirectory, sidecars, "dns-rewrite")
            .WithEnvironment("DNS_REWRITE_LISTEN", $"127.0.0.1:{port.ToString(System.Globalization.CultureInfo.InvariantCulture)}")
            .WithEnvironment("DNS_REWRITE_UPSTREAM", upstream!)
            .WithEnvironment("DNS_REWRITE_RULES", JsonSerializer.Serialize(rules))
            .WithEnvironment("DNS_REWRITE_HEALTH_NAME", healthName!)
            .WithHttpEndpoint(name: "http", env: "DNS_REWRITE_HEALTH_PORT")
            .WithPromptHttpHealthCheck("/health")
            // Its counters and logs on the dashboard, as the project resources' are.
            .WithOtlpExporter();
    }

    /// <summary>The rules of the <c>DnsRewrite</c> section as dns-rewrite reads them (DNS_REWRITE_RULES): a JSON array of {pattern, replacement}.</summary>
    public static string RulesJson(IConfiguration configuration) => JsonSerializer.Serialize(Rules(configuration.GetSection(Section)));

    /// <summary>The name dns-rewrite's /health resolves to say it works.</summary>
    public static string HealthName(IConfiguration configuration) =>
        configuration.GetSection(Section)["HealthName"] is { Length: > 0 } name ? name : throw new InvalidOperationException($"{Section}:HealthName is not set: the name /health resolves to say the server works.");

    private static List<DnsRewriteRule> Rules(IConfigurationSection settings) =>
        [.. settings.GetSection("Rules").GetChildren().Select(rule => new DnsRewriteRule(rule["Pattern"] ?? "", rule["Replacement"] ?? ""))];

    private sealed record DnsRewriteRule([property: System.Text.Json.Serialization.JsonPropertyName("pattern")] string Pattern, [property: System.Text.Json.Serialization.JsonPropertyName("replacement")] string Replacement);

    /// <summary>The address of the first <c>nameserver</c> line of a resolv.conf, or null when there is none.</summary>
    public static string? FirstNameserver(string resolvConf)
    {
        if (!File.Exists(resolvConf)) return null;
        return File.ReadLines(resolvConf)
            .Select(line => line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries))
            .Where(fields => fields is ["nameserver", _, ..] && IPAddress.TryParse(fields[1].Split('%')[0], out _))
            .Select(fields => fields[1].Split('%')[0])
            .FirstOrDefault();
    }

    // DNS answers on UDP and TCP alike, so the port must be free for both.
    private static int FreeDnsPort()
    {
        while (true)
        {
            using var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            udp.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            var port = ((IPEndPoint)udp.LocalEndPoint!).Port;
            using var tcp = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                tcp.Bind(new IPEndPoint(IPAddress.Loopback, port));
                return port;
            }
            catch (SocketException)
            {
                // Taken for TCP: try another.
            }
        }
    }
}
