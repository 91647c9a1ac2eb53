using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace DataWorkspace.Sidecars.Metrics;

/// <summary>The metrics sidecar as a web host: the Prometheus exporter at /metrics and /__metrics, each scrape reading the source first.</summary>
public static class MetricsHost
{
    public const string MetricsPath = SidecarHosting.MetricsPath;

    /// <summary>The path the original Data Workspace's metrics sidecar served, which existing Prometheus configurations scrape.</summary>
    public const string OriginalMetricsPath = "/__metrics";

    /// <summary>The sidecar, not yet started, logging JSON lines to standard output.</summary>
    public static WebApplication Build(MetricsSettings settings) => (WebApplication)SidecarHosting.Build(
        new System.Net.IPEndPoint(settings.Address, settings.Port),
        new SidecarTelemetry("dataworkspace-metrics-sidecar", ToolUsageMeter.MeterName)
        {
            MetricsPaths = [MetricsPath, OriginalMetricsPath],
            // Every scrape reads the source afresh, so a cached answer would only hide a change or an error.
            BeforeScrape = context => context.RequestServices.GetRequiredService<ToolUsage>().RefreshAsync(),
        },
        builder =>
        {
            builder.Services.AddSingleton(settings);
            builder.Services.AddSingleton(TimeProvider.System);
            builder.Services.AddHttpClient(nameof(EcsTaskMetadata), http => http.Timeout = settings.SourceTimeout)
                // The endpoint is link-local (169.254.170.2): a tool's HTTP_PROXY must not send the sidecar's reads elsewhere.
                .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { UseProxy = false });
            builder.Services.AddSingleton<IUsageSource>(services => settings.Pid is { } pid
                ? new ProcessTreeUsage(pid, settings.ContainerName)
                : new EcsTaskMetadata(
                    services.GetRequiredService<IHttpClientFactory>().CreateClient(nameof(EcsTaskMetadata)),
                    settings.MetadataUri!,
                    settings.ExcludedContainers));
            builder.Services.AddSingleton<ToolUsage>();
            builder.Services.AddSingleton<ToolUsageMeter>();
        },
        Map(settings));

    private static Action<WebApplication> Map(MetricsSettings settings) => app =>
    {
        app.Services.GetRequiredService<ToolUsageMeter>();
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(MetricsHost).FullName!);
        var source = app.Services.GetRequiredService<IUsageSource>();
        app.Lifetime.ApplicationStarted.Register(() =>
            MetricsLog.Started(logger, $"{MetricsPath} {OriginalMetricsPath}", settings.Address.ToString(), settings.Port, source.Description));
        app.Lifetime.ApplicationStopped.Register(() => MetricsLog.Stopped(logger));
    };
}
