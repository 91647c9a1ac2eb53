namespace DataWorkspace.Contracts;

/// <summary>
/// A tool host's instance as the web app tells the proxy (<c>GET /internal/v1/tools/{host}</c> and the others): its
/// active instance, else its last one (stopped, with why), else <see cref="ToolInstanceState.None"/>. Where to
/// forward, or what the progress page shows while it starts. <see cref="StopReason"/> and <see cref="Error"/> are
/// words for people; code reads <see cref="State"/>, <see cref="Stage"/> and <see cref="StopCause"/>.
/// </summary>
public sealed record ToolHostState(
    string Host,
    string TemplateName,
    ToolInstanceState State,
    Guid? InstanceId,
    string? Address,
    ToolStage? Stage,
    string? Error,
    string? StopReason,
    ToolStopCause? StopCause,
    DateTimeOffset? StartedAt,
    IReadOnlyList<int> Ports)
{
    /// <summary>Changes whenever anything the progress page shows changes; the proxy waits for a change from it.</summary>
    public string Version => $"{State}|{InstanceId}|{Stage}|{Error}";
}
