using System.Globalization;
using System.Text.RegularExpressions;

namespace DataWorkspace.Contracts;

/// <summary>
/// A tool's host name under the root domain: <c>&lt;basename&gt;-&lt;userhash8&gt;</c> for a user's tool, or
/// <c>&lt;basename&gt;</c> alone for a visualisation (one shared instance), each optionally <c>--&lt;port&gt;</c> for
/// another port of the same instance. The one grammar of tool hosts, for the proxy (routing) and the web app
/// (templates, its internal API). A label that could be both is a user's tool, so a visualisation's basename may not
/// end in a hyphen and eight hex digits.
/// </summary>
public sealed partial record ToolHostName(string Host, string Basename, string? UserHash, int? Port)
{
    /// <summary>A visualisation's host: no user's hash, one instance for everyone its access allows.</summary>
    public bool IsVisualisation => UserHash is null;

    private const string BasenamePattern = "[a-z][a-z0-9]*(?:-[a-z0-9]+)*";

    [GeneratedRegex("^(?<host>(?<basename>" + BasenamePattern + ")-(?<hash>[0-9a-f]{8}))(?:--(?<port>[0-9]{1,6}))?$")]
    private static partial Regex Label();

    [GeneratedRegex("^(?<basename>" + BasenamePattern + ")(?:--(?<port>[0-9]{1,6}))?$")]
    private static partial Regex VisualisationLabel();

    [GeneratedRegex("^" + BasenamePattern + "$")]
    private static partial Regex BasenameOnly();

    [GeneratedRegex("-[0-9a-f]{8}$")]
    private static partial Regex EndsLikeAUserHash();

    /// <summary>Whether <paramref name="basename"/> would be read as a user's tool if used alone (a visualisation's host).</summary>
    public static bool LooksLikeUserTool(string basename) => EndsLikeAUserHash().IsMatch(basename);

    /// <summary>Lowercase letters and digits in words joined by single hyphens, starting with a letter.</summary>
    public static bool IsBasename(string basename) => BasenameOnly().IsMatch(basename);

    /// <summary>The host of <paramref name="basename"/> for the user <paramref name="userId"/>.</summary>
    public static string For(string basename, string userId) => $"{basename}-{Contracts.UserHash.Of(userId)}";

    /// <summary>The tool host in <paramref name="label"/> (the part before the root domain), or why it is not one.</summary>
    public static ToolHostLabel Parse(string label)
    {
        var lower = label.ToLowerInvariant();
        var match = Label().Match(lower);
        var visualisation = !match.Success;
        if (visualisation) match = VisualisationLabel().Match(lower);
        if (!match.Success) return new(null, $"'{label}' is not the address of a tool", ToolHostProblem.NotATool);
        int? port = null;
        if (match.Groups["port"].Success)
        {
            var value = int.Parse(match.Groups["port"].Value, CultureInfo.InvariantCulture);
            if (value is < 1 or > 65535) return new(null, $"port {value} is outside 1-65535", ToolHostProblem.PortOutOfRange);
            port = value;
        }

        return new(visualisation
            ? new ToolHostName(match.Groups["basename"].Value, match.Groups["basename"].Value, null, port)
            : new ToolHostName(match.Groups["host"].Value, match.Groups["basename"].Value, match.Groups["hash"].Value, port), null, ToolHostProblem.None);
    }
}

/// <summary>What is wrong with a label that is not a tool host: an address of no tool, or a malformed request.</summary>
public enum ToolHostProblem
{
    None,
    NotATool,
    PortOutOfRange,
}

/// <summary>A label read as a tool host: the host, or why it is not one in words for people and as a kind for code.</summary>
public readonly record struct ToolHostLabel(ToolHostName? Name, string? Problem, ToolHostProblem Kind)
{
    public void Deconstruct(out ToolHostName? name, out string? problem) => (name, problem) = (Name, Problem);
}
