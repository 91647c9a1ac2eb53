using Microsoft.Extensions.Logging;

namespace DataWorkspace.Sidecars.Metrics;

/// <summary>The metrics sidecar's log events, with their fields named so the JSON log can be searched by them.</summary>
internal static partial class MetricsLog
{
    [LoggerMessage(1, LogLevel.Information, "metrics serving {Paths} on {Address}:{Port} from {Source}")]
    public static partial void Started(ILogger logger, string paths, string address, int port, string source);

    [LoggerMessage(2, LogLevel.Information, "Read {Source}: {ContainerCount} container(s) watched: {Containers}")]
    public static partial void Read(ILogger logger, string source, int containerCount, string containers);

    [LoggerMessage(3, LogLevel.Warning, "Could not read {Source}; serving the last figures of {ContainerCount} container(s): {Problem}")]
    public static partial void SourceFailed(ILogger logger, string source, int containerCount, string problem);

    [LoggerMessage(5, LogLevel.Information, "metrics stopped")]
    public static partial void Stopped(ILogger logger);
}
