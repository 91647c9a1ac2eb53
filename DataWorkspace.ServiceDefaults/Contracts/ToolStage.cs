using System.Text.Json.Serialization;

namespace DataWorkspace.Contracts;

/// <summary>What the start of a tool instance is doing now, in the order a start goes through them.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ToolStage>))]
public enum ToolStage
{
    /// <summary>Recorded, not yet picked up.</summary>
    Queued,

    /// <summary>Its database login and, on ECS, its task's network are being made.</summary>
    Provisioning,

    /// <summary>ECS is pulling its images.</summary>
    Pulling,

    /// <summary>Its process or containers are starting.</summary>
    Starting,

    /// <summary>Started; the platform waits for it to answer HTTP.</summary>
    WaitingForTheApp,
}

/// <summary>The stages in the words people see (the progress page, the tools pages): the one place they are written.</summary>
public static class ToolStageWords
{
    public static string Words(this ToolStage stage) => stage switch
    {
        ToolStage.Queued => "queued",
        ToolStage.Provisioning => "provisioning",
        ToolStage.Pulling => "pulling",
        ToolStage.Starting => "starting",
        ToolStage.WaitingForTheApp => "waiting for the app",
        _ => throw new ArgumentOutOfRangeException(nameof(stage), stage, null),
    };
}
