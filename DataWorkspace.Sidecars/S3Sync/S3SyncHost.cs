using System.Net;
using System.Text.Json;
using Amazon;
using Amazon.S3;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace DataWorkspace.Sidecars.S3Sync;

/// <summary>The s3sync sidecar as a host: the sync, and the HTTP health endpoint and metrics when a health port is set.</summary>
public static class S3SyncHost
{
    public const string HealthPath = "/health";

    /// <summary>The sidecar, not yet started. <paramref name="configureLogging"/> replaces the JSON console log (tests collect the events).</summary>
    public static IHost Build(S3SyncSettings settings, Action<ILoggingBuilder>? configureLogging = null) => SidecarHosting.Build(
        settings.HealthPort is { } healthPort ? new IPEndPoint(IPAddress.Parse(settings.HealthAddress), healthPort) : null,
        new SidecarTelemetry("dataworkspace-s3sync-sidecar", S3SyncMetrics.MeterName),
        builder =>
        {
            // The upload under way finishes before the sidecar exits; the orchestrator's own stop timeout is the real bound.
            builder.Services.Configure<HostOptions>(options => options.ShutdownTimeout = TimeSpan.FromMinutes(10));
            builder.Services.AddMetrics();
            builder.Services.AddSingleton(settings);
            builder.Services.AddSingleton(TimeProvider.System);
            builder.Services.AddSingleton<IAmazonS3>(_ => CreateClient(settings));
            builder.Services.AddSingleton<S3SyncMetrics>();
            builder.Services.AddSingleton<HomeFolderSync>();
            builder.Services.AddHostedService(services => services.GetRequiredService<HomeFolderSync>());
        },
        app => app.MapGet(HealthPath, (HomeFolderSync sync, TimeProvider time) => CheckHealth(sync, settings, time)),
        configureLogging);

    /// <summary>The S3 client: the SDK's default credentials (environment keys, or the container endpoint that renews them).</summary>
    public static AmazonS3Client CreateClient(S3SyncSettings settings)
    {
        var config = new AmazonS3Config { Timeout = TimeSpan.FromSeconds(60), MaxErrorRetry = 2 };
        if (settings.Endpoint is null)
            config.RegionEndpoint = RegionEndpoint.GetBySystemName(settings.Region);
        else
            (config.ServiceURL, config.ForcePathStyle, config.AuthenticationRegion) = (settings.Endpoint.ToString(), true, settings.Region);
        return new AmazonS3Client(config);
    }

    /// <summary>200 while sync rounds succeed (or transfers progress), 503 with the reason once none has for three poll intervals.</summary>
    private static IResult CheckHealth(HomeFolderSync sync, S3SyncSettings settings, TimeProvider time)
    {
        var now = time.GetUtcNow();
        var progress = sync.LastProgress;
        var last = sync.LastSuccess is { } success ? $"last succeeded at {success:u}" : $"none has succeeded since the start at {sync.StartedAt:u}";
        if (now - progress > settings.StuckAfter)
        {
            var problem = sync.LastProblem is { } reason ? $" Last problem: {reason}." : " No round has failed: one is taking that long.";
            return TypedResults.Text(
                $"Unhealthy: sync of {settings.LocalDirectory} with s3://{settings.Bucket}/{settings.Prefix} is stuck: no progress for {(now - progress).TotalSeconds:0} s, "
                + $"more than three poll intervals ({settings.StuckAfter.TotalSeconds:0.#} s); sync rounds: {last}.{problem}\n",
                "text/plain", statusCode: StatusCodes.Status503ServiceUnavailable);
        }
        return TypedResults.Text($"Healthy: sync rounds: {last}.\n", "text/plain");
    }
}
