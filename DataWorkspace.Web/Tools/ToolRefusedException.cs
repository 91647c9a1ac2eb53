namespace DataWorkspace.Web.Tools;

/// <summary>Why the platform refuses to start a tool; the edge (APIs, pages) answers each kind with its HTTP status.</summary>
public enum ToolRefusal
{
    /// <summary>The user's account is deactivated.</summary>
    AccountDeactivated,

    /// <summary>No visible template has the basename.</summary>
    NoSuchTool,

    /// <summary>The user has no tools access (training not confirmed, no permission).</summary>
    NoToolsAccess,

    /// <summary>The visualisation's access rules do not let this user open it.</summary>
    NoVisualisationAccess,

    /// <summary>The size asked for does not exist.</summary>
    NoSuchSize,

    /// <summary>This platform's launcher cannot run the tool (no image, a command not installed).</summary>
    CannotRunHere,
}

/// <summary>A start the platform refuses: the kind of refusal, and the reason in words for the user.</summary>
public sealed class ToolRefusedException(ToolRefusal refusal, string message) : Exception(message)
{
    public ToolRefusal Refusal { get; } = refusal;
}
