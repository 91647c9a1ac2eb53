using System.Text.Encodings.Web;
using System.Text.Json;
using ARSoft.Tools.Net.Dns;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace DataWorkspace.Sidecars.DnsRewrite;

/// <summary>The DNS server on UDP and TCP, started and stopped with the host.</summary>
public sealed class DnsRewriteServer(DnsRewriteSettings settings, RewritingResolver resolver, DnsRewriteMetrics metrics, ILogger<DnsRewriteServer> logger) : IHostedService
{
    // The text ARSoft's server wraps a parse failure in; anything else it reports is a fault of the server.
    private const string ParseFailure = "Error parsing dns query";

    private readonly CancellationTokenSource stopping = new();
    private DnsServer? server;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var udp = new UdpQueryTransport(settings.Listen, metrics, logger);
        var tcp = new TcpQueryTransport(settings.Listen, metrics, logger);
        server = new DnsServer(udp, tcp);
        server.QueryReceived += AnswerAsync;
        server.ExceptionThrown += (_, e) =>
        {
            if (e.Exception.Message == ParseFailure)
            {
                // Logged before counted, as the transports do: whoever sees the counter move finds the line that says why.
                DnsRewriteLog.Unparsable(logger, e.Exception.InnerException?.Message ?? e.Exception.Message);
                metrics.Malformed("unparsable");
            }
            else
            {
                DnsRewriteLog.Failed(logger, e.Exception);
            }
            return Task.CompletedTask;
        };
        server.Start();
        DnsRewriteLog.Started(logger, settings.Listen, settings.Upstream, settings.Rules.Count, string.Join("; ", settings.Rules));
        return Task.CompletedTask;
    }

    private async Task AnswerAsync(object sender, QueryReceivedEventArgs e)
    {
        if (e.Query is not DnsMessage query)
            return;
        try
        {
            e.Response = await resolver.AnswerAsync(query, e.RemoteEndpoint, stopping.Token);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            DnsRewriteLog.Failed(logger, exception);
            metrics.Error("SERVFAIL");
            var failure = query.CreateResponseInstance();
            failure.ReturnCode = ReturnCode.ServerFailure;
            e.Response = failure;
        }
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        stopping.Cancel();
        server?.Stop();
        DnsRewriteLog.Stopped(logger);
        return Task.CompletedTask;
    }
}

/// <summary>The dns-rewrite sidecar as a host: the DNS server, and the HTTP health endpoint and metrics when a health port is set.</summary>
public static class DnsRewriteHost
{
    public const string HealthPath = "/health";

    /// <summary>The sidecar, not yet started. <paramref name="configureLogging"/> replaces the JSON console log (tests collect the events).</summary>
    public static IHost Build(DnsRewriteSettings settings, Action<ILoggingBuilder>? configureLogging = null) => SidecarHosting.Build(
        settings.HealthPort is { } healthPort ? new System.Net.IPEndPoint(settings.Listen.Address, healthPort) : null,
        new SidecarTelemetry("dataworkspace-dns-rewrite-sidecar", DnsRewriteMetrics.MeterName),
        builder =>
        {
            builder.Services.AddMetrics();
            builder.Services.AddSingleton(settings);
            builder.Services.AddSingleton<DnsRewriteMetrics>();
            builder.Services.AddSingleton<RewritingResolver>();
            builder.Services.AddHostedService<DnsRewriteServer>();
        },
        app => app.MapGet(HealthPath, CheckHealthAsync),
        configureLogging);

    /// <summary>200 when the health name resolves through the rules and the upstream to at least one address, 503 otherwise.</summary>
    private static async Task<IResult> CheckHealthAsync(RewritingResolver resolver, DnsRewriteSettings settings, CancellationToken cancellationToken)
    {
        var name = settings.HealthName!;
        var (upstreamName, answer) = await resolver.ResolveAsync(name, cancellationToken);
        if (upstreamName is null)
            return Unhealthy($"{name} matches no rule, so the tools could not resolve it either.");
        if (answer is null)
            return Unhealthy($"{name} (upstream name {upstreamName}): the upstream did not answer.");
        if (answer.ReturnCode != ReturnCode.NoError)
            return Unhealthy($"{name} (upstream name {upstreamName}): the upstream answered {RewritingResolver.Mnemonic(answer.ReturnCode)}.");
        if (answer.Addresses.Count == 0)
            return Unhealthy($"{name} (upstream name {upstreamName}): the upstream has no address for it.");
        return TypedResults.Text($"Healthy: {name} resolves to {string.Join(", ", answer.Addresses.Select(a => a.Address))} (upstream name {upstreamName}).\n", "text/plain");
    }

    private static IResult Unhealthy(string reason) =>
        TypedResults.Text($"Unhealthy: {reason}\n", "text/plain", statusCode: StatusCodes.Status503ServiceUnavailable);
}
