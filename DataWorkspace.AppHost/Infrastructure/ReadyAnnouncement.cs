using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace DataWorkspace.AppHost.Infrastructure;

/// <summary>
/// Says once that the platform is ready when every one of the given resources is: they start side by side, so no one
/// of them being ready means the others are.
/// </summary>
public static class ReadyAnnouncement
{
    public static void AnnounceWhenReady(this IDistributedApplicationBuilder builder, IEnumerable<IResource> resources, Action<ILogger> announce)
    {
        var waiting = resources.Select(resource => resource.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var resource in builder.Resources.Where(resource => waiting.Contains(resource.Name)))
        {
            builder.Eventing.Subscribe<ResourceReadyEvent>(resource, (@event, _) =>
            {
                bool last;
                lock (waiting) last = waiting.Remove(@event.Resource.Name) && waiting.Count == 0;
                if (last) announce(@event.Services.GetRequiredService<ILoggerFactory>().CreateLogger("DataWorkspace"));
                return Task.CompletedTask;
            });
        }
    }
}
