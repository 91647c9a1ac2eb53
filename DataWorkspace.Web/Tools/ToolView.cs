using DataWorkspace.Contracts;

namespace DataWorkspace.Web.Tools;

/// <summary>
/// A tool as one user sees it: the template, where it is, whether it runs, and why it cannot when it cannot.
/// <paramref name="Stage"/> is in words (<see cref="ToolStageWords"/>), as the tools page shows it.
/// </summary>
public sealed record ToolView(
    string Name, string HostBasename, string Description, ToolKind Kind, Uri Url, ToolInstanceState State, string Size, string DefaultSize,
    string? Stage, string? Unavailable, string? LastStopReason, string? Error, Guid? InstanceId, bool Wrapped);
