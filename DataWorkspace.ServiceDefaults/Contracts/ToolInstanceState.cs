using System.Text.Json.Serialization;

namespace DataWorkspace.Contracts;

/// <summary>Where a tool instance is in its life; travels by name (<c>"Running"</c>) and is stored by name.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ToolInstanceState>))]
public enum ToolInstanceState
{
    /// <summary>No instance was ever started at the host: only a host's state says this, never an instance.</summary>
    None,

    /// <summary>Being started: see its <see cref="ToolStage"/>.</summary>
    Spawning,

    /// <summary>Answering at its address.</summary>
    Running,

    /// <summary>Ended, with its <see cref="ToolStopCause"/> and the reason in words.</summary>
    Stopped,
}
