using System.Text.Json.Serialization;

namespace DataWorkspace.Contracts;

/// <summary>
/// Why a tool instance stopped, for code to act on; the reason in words (for people) travels beside it and is never
/// compared.
/// </summary>
[JsonConverter(typeof(JsonStringEnumConverter<ToolStopCause>))]
public enum ToolStopCause
{
    /// <summary>Its user stopped it.</summary>
    User,

    /// <summary>An administrator stopped it.</summary>
    Administrator,

    /// <summary>Its user's account was deactivated.</summary>
    AccountDeactivated,

    /// <summary>No traffic for its idle timeout.</summary>
    Idle,

    /// <summary>It reached the platform's maximum lifetime of a tool.</summary>
    MaxLifetime,

    /// <summary>It could not be started, or died while starting.</summary>
    SpawnFailed,

    /// <summary>The proxy could not connect to it any more.</summary>
    StoppedAnswering,

    /// <summary>A local tool whose process ended with the platform's previous run.</summary>
    PlatformRestarted,
}
