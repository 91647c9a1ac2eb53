using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace DataWorkspace.AppHost.Infrastructure;

/// <summary>
/// Health checks that see a resource become ready within a tenth of a second. Aspire asks a resource that is not yet
/// healthy again only after a growing pause (1 to 5 seconds), and everything waiting for the resource waits out that
/// pause too. Each check here keeps asking every 100 ms for up to 4 s, within one of Aspire's rounds, before it reports
/// unhealthy.
/// </summary>
public static class PromptHealthChecks
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(4);
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(100);
    private static readonly HttpClient Client = new() { Timeout = TimeSpan.FromSeconds(2) };

    /// <summary>Healthy once <paramref name="path"/> on the resource's endpoint answers with a success status.</summary>
    public static IResourceBuilder<T> WithPromptHttpHealthCheck<T>(this IResourceBuilder<T> resource, string path, string endpointName = "http")
        where T : IResourceWithEndpoints
    {
        var endpoint = resource.GetEndpoint(endpointName);
        var key = $"{resource.Resource.Name}-{endpointName}-answers";
        resource.ApplicationBuilder.Services.AddHealthChecks().AddAsyncCheck(key, cancellationToken => UntilHealthyAsync(async token =>
        {
            if (!endpoint.IsAllocated) return "its endpoint has no address yet";
            using var response = await Client.GetAsync(new Uri(new Uri(endpoint.Url), path), token);
            return response.IsSuccessStatusCode ? null : $"{path} answered {(int)response.StatusCode}";
        }, cancellationToken));
        return resource.WithHealthCheck(key);
    }

    /// <summary>
    /// Asks <paramref name="probe"/> (null when healthy, else what is wrong) until it is healthy or the patience runs out.
    /// A probe that throws is unhealthy for the exception's message.
    /// </summary>
    public static async Task<HealthCheckResult> UntilHealthyAsync(Func<CancellationToken, Task<string?>> probe, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        while (true)
        {
            string? problem;
            try
            {
                problem = await probe(cancellationToken);
            }
            catch (Exception exception) when (!cancellationToken.IsCancellationRequested)
            {
                problem = exception.Message;
            }

            if (problem is null) return HealthCheckResult.Healthy();
            if (Stopwatch.GetElapsedTime(started) >= Patience) return HealthCheckResult.Unhealthy(problem);
            await Task.Delay(Interval, cancellationToken);
        }
    }
}
