using System.Globalization;
using System.Net;

namespace DataWorkspace.Sidecars.Metrics;

/// <summary>How the metrics sidecar runs: where it reads figures from, which containers it leaves out, where it serves them.</summary>
public sealed record MetricsSettings(IPAddress Address, int Port)
{
    public const int DefaultPort = 8889;
    public static readonly IReadOnlyList<string> DefaultExcludedContainers = ["s3sync", "metrics"];

    /// <summary>The ECS task metadata endpoint v4; null when a local process is watched instead.</summary>
    public Uri? MetadataUri { get; init; }

    /// <summary>The local tool's process, whose tree is watched instead of an ECS task.</summary>
    public int? Pid { get; init; }

    /// <summary>The container label of a local process's series.</summary>
    public string ContainerName { get; init; } = "tool";

    public IReadOnlySet<string> ExcludedContainers { get; init; } = DefaultExcludedContainers.ToHashSet(StringComparer.Ordinal);

    public TimeSpan SourceTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Settings from the command line and environment, or every problem with them.</summary>
    public static MetricsSettings? Create(
        string? address, string? port, string? metadataUri, string? pid, string? containerName, IReadOnlyList<string> excluded, int sourceTimeoutMilliseconds,
        out IReadOnlyList<string> problems)
    {
        var found = new List<string>();
        var listenAddress = IPAddress.Any;
        if (!string.IsNullOrWhiteSpace(address) && !IPAddress.TryParse(address.Trim(), out listenAddress!))
            found.Add($"--address must be an IP address to listen on, e.g. 0.0.0.0 or 127.0.0.1; '{address}' is not.");
        var portNumber = DefaultPort;
        if (!string.IsNullOrWhiteSpace(port) && !(int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out portNumber) && portNumber is >= 1 and <= 65535))
            found.Add($"--port must be a port number from 1 to 65535; '{port}' is not.");

        int? processId = null;
        Uri? metadata = null;
        if (!string.IsNullOrWhiteSpace(pid))
        {
            if (int.TryParse(pid, NumberStyles.None, CultureInfo.InvariantCulture, out var number) && number > 0)
                processId = number;
            else
                found.Add($"--pid must be a process id (a positive whole number); '{pid}' is not.");
        }
        else if (!string.IsNullOrWhiteSpace(metadataUri))
        {
            if (Uri.TryCreate(metadataUri.Trim(), UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https")
                metadata = uri;
            else
                found.Add($"--metadata-uri (ECS_CONTAINER_METADATA_URI_V4) must be an absolute http address; '{metadataUri}' is not.");
        }
        else
        {
            found.Add("Nothing to watch: on ECS, ECS_CONTAINER_METADATA_URI_V4 is set for every container (Fargate platform 1.4.0 or later); locally, give --pid with the tool's process id.");
        }

        var excludedNames = excluded.SelectMany(names => names.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToHashSet(StringComparer.Ordinal);
        if (string.IsNullOrWhiteSpace(containerName))
            found.Add("--container-name must not be empty: it labels the local process's series.");
        if (sourceTimeoutMilliseconds is < 1 or > 60_000)
            found.Add($"--source-timeout-ms must be from 1 to 60000; {sourceTimeoutMilliseconds} is not.");

        problems = found;
        if (found.Count > 0)
            return null;
        return new MetricsSettings(listenAddress, portNumber)
        {
            MetadataUri = metadata,
            Pid = processId,
            ContainerName = containerName!.Trim(),
            ExcludedContainers = excludedNames,
            SourceTimeout = TimeSpan.FromMilliseconds(sourceTimeoutMilliseconds),
        };
    }
}
