namespace DataWorkspace.Contracts;

/// <summary>The proxy's report that it could not connect to a tool instance (<c>POST /internal/v1/tools/{host}/died</c>).</summary>
public sealed record ToolDiedRequest(Guid InstanceId, string? Reason);

/// <summary>When the proxy last forwarded traffic (HTTP or websocket frames) to each instance (<c>POST /internal/v1/tools/activity</c>).</summary>
public sealed record ToolActivityReport(IReadOnlyList<ToolActivityEntry> Instances);

public sealed record ToolActivityEntry(Guid InstanceId, DateTimeOffset LastActivityAt);
