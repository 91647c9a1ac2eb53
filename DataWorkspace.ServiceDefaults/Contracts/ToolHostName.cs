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
    public static (ToolHostName? Name, string? Problem) Parse(string label)
    {
        var lower = label.ToLowerInvariant();
        var match = Label().Match(lower);
        var visualisation = !match.Success;
        if (visualisation) match = VisualisationLabel().Match(lower);
        if (!match.Success) return (null, $"'{label}' is not the address of a tool");
        int? port = null;
        if (match.Groups["port"].Success)
        {
            var value = int.Parse(match.Groups["port"].Value, CultureInfo.InvariantCulture);
            if (value is < 1 or > 65535) return (null, $"port {value} is outside 1-65535");
            port = value;
        }

        return visualisation
            ? (new ToolHostName(match.Groups["basename"].Value, match.Groups["basename"].Value, null, port), null)
            : (new ToolHostName(match.Groups["host"].Value, match.Groups["basename"].Value, match.Groups["hash"].Value, port), null);
    }
}
