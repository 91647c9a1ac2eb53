using System.Net;
using System.Net.Sockets;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace DataWorkspace.Sidecars;

/// <summary>What a sidecar's telemetry is called and shows: its service name, and the meter whose instruments it exports.</summary>
/// <param name="ServiceName">The OpenTelemetry service name, unless OTEL_SERVICE_NAME names it (as Aspire does).</param>
public sealed record SidecarTelemetry(string ServiceName, string MeterName)
{
    /// <summary>Where the HTTP port serves the Prometheus text.</summary>
    public IReadOnlyList<string> MetricsPaths { get; init; } = [SidecarHosting.MetricsPath];

    /// <summary>Runs before each scrape, for a sidecar whose figures are read from their source at that moment.</summary>
    public Func<HttpContext, Task>? BeforeScrape { get; init; }
}

/// <summary>
/// What every long-running sidecar does the same way: JSON lines on standard output (searchable by field in the
/// orchestrator's log store), the framework's own chatter only from Warning, an HTTP side (health, metrics) only when it
/// has a port, its meter as Prometheus text there and over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set (with the
/// logs), and a start that says in one line why it could not listen.
/// </summary>
public static class SidecarHosting
{
    public const int BadSettingsExitCode = 2;
    public const int CannotStartExitCode = 1;
    public const string MetricsPath = "/metrics";

    /// <summary>
    /// The sidecar's host, not yet started: a plain host when <paramref name="http"/> is null, otherwise a slim web host
    /// listening there with <paramref name="map"/>'s endpoints and the metrics. <paramref name="configureLogging"/>
    /// replaces the JSON console log (tests collect the events).
    /// </summary>
    public static IHost Build(IPEndPoint? http, SidecarTelemetry telemetry, Action<IHostApplicationBuilder> configure, Action<WebApplication>? map = null, Action<ILoggingBuilder>? configureLogging = null)
    {
        if (http is null)
        {
            var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [] });
            UseSidecarLogging(builder.Logging, configureLogging);
            configure(builder);
            AddTelemetry(builder, telemetry, prometheus: false);
            return builder.Build();
        }

        var webBuilder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        UseSidecarLogging(webBuilder.Logging, configureLogging);
        configure(webBuilder);
        AddTelemetry(webBuilder, telemetry, prometheus: true);
        webBuilder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(http);
        });
        var app = webBuilder.Build();
        map?.Invoke(app);
        foreach (var path in telemetry.MetricsPaths)
        {
            app.MapPrometheusScrapingEndpoint(path, meterProvider: null, configureBranchedPipeline: telemetry.BeforeScrape is { } beforeScrape
                ? branch => branch.Use(async (context, next) =>
                {
                    await beforeScrape(context);
                    await next(context);
                })
                : null, optionsName: null);
        }
        return app;
    }

    private static void AddTelemetry(IHostApplicationBuilder builder, SidecarTelemetry telemetry, bool prometheus)
    {
        // The standard variable Aspire and collectors' deployments set; without it, and without a port, nothing would read the figures.
        var otlp = !string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        if (!otlp && !prometheus)
            return;

        builder.Services.AddMetrics();
        var openTelemetry = builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource =>
            {
                if (string.IsNullOrWhiteSpace(builder.Configuration["OTEL_SERVICE_NAME"]))
                    resource.AddService(telemetry.ServiceName);
            })
            .WithMetrics(metrics =>
            {
                metrics.AddMeter(telemetry.MeterName);
                if (prometheus)
                {
                    // Scrapes are rare; a cached answer would only hide the latest change.
                    metrics.AddPrometheusExporter(exporter => exporter.ScrapeResponseCacheDurationMilliseconds = 0);
                }
            });
        if (otlp)
        {
            builder.Logging.AddOpenTelemetry(logging => logging.IncludeFormattedMessage = true);
            openTelemetry.UseOtlpExporter();
        }
    }

    /// <summary>Starts the host and runs it until SIGTERM; a socket it cannot take ends it with one line on standard error.</summary>
    public static async Task<int> RunAsync(IHost host, string cannotStart, CancellationToken cancellationToken)
    {
        try
        {
            await host.StartAsync(cancellationToken);
        }
        catch (Exception exception) when (exception is SocketException or IOException or AddressInUseException)
        {
            await Console.Error.WriteLineAsync($"{cannotStart}: {exception.Message}");
            return CannotStartExitCode;
        }

        await host.WaitForShutdownAsync(cancellationToken);
        return 0;
    }

    /// <summary>Says what is wrong with the settings, all at once, and where the help is.</summary>
    public static int BadSettings(IEnumerable<string> problems, string command)
    {
        foreach (var problem in problems)
            Console.Error.WriteLine(problem);
        Console.Error.WriteLine($"Run 'dataworkspace-sidecar {command} --help' for the options and examples.");
        return BadSettingsExitCode;
    }

    private static void UseSidecarLogging(ILoggingBuilder logging, Action<ILoggingBuilder>? configureLogging)
    {
        logging.ClearProviders();
        if (configureLogging is null)
        {
            logging.AddJsonConsole(json =>
            {
                json.UseUtcTimestamp = true;
                json.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
                // Rules and paths stay readable (+, >, ') instead of \u002B escapes: the lines are read, not embedded in HTML.
                json.JsonWriterOptions = new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
            });
        }
        else
        {
            configureLogging(logging);
        }

        logging.AddFilter("Microsoft", LogLevel.Warning);
        logging.AddFilter("Amazon", LogLevel.Warning);
    }
}
