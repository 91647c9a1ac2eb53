using System.Text;
using System.Text.RegularExpressions;
using DataWorkspace.Web.Tools;

namespace DataWorkspace.Web.Files;

/// <summary>One of the user's folders at the top: their home folder, or a team's they are in.</summary>
public sealed record FileRoot(string Prefix, string Name, string Kind);

/// <summary>Whether a key names a file (no trailing <c>/</c>) or a folder (a prefix, ending in <c>/</c>).</summary>
public enum KeyKind
{
    File,
    Folder,
}

/// <summary>
/// A files request refused before anything is touched, with what to do: 400 for a malformed key or value, 403 for a
/// key that is not the user's, 404 for what is not there, 409 for a target that already is.
/// </summary>
public sealed class FilesRefusedException(int status, string detail, bool unsafePath = false) : Exception(detail)
{
    public int Status { get; } = status;

    /// <summary>A key that tries to leave its folder (<c>..</c>, <c>\</c>, escapes): worth counting as a security refusal.</summary>
    public bool UnsafePath { get; } = unsafePath;
}

/// <summary>
/// The rules every key and prefix the files API takes must pass, checked by our own code (the local emulator checks
/// no policy): at most 1,024 bytes of UTF-8 with names of at most 255, no leading <c>/</c>, no
/// <c>\</c>, no empty, <c>.</c> or <c>..</c> names, no control characters, no percent-escapes, no name that ends in a
/// space or a dot, and under one of the user's own roots. Keys are taken in the Unicode form they come in: the page
/// writes new names in NFC, and a name a tool wrote in another form (NFD from a Mac) must stay reachable as it is. The
/// web app runs with invariant globalization, where .NET cannot normalise non-ASCII text; roots are ASCII, so no form
/// of a key reaches a root it does not start with.
/// </summary>
public static partial class FileKeys
{
    public const int MaxKeyBytes = 1024;
    public const int MaxNameBytes = 255;

    public static IReadOnlyList<FileRoot> RootsOf(ToolPrefixes prefixes) =>
        [new(prefixes.Home, "Your home folder", "home"), .. prefixes.Teams.Select(team => new FileRoot(team, team["teams/".Length..^1], "team"))];

    /// <summary>
    /// The key when it passes every rule and lies under one of <paramref name="roots"/> (a root itself
    /// only when <paramref name="rootAllowed"/>); otherwise throws <see cref="FilesRefusedException"/>.
    /// </summary>
    public static string Check(string? value, KeyKind kind, IReadOnlyList<string> roots, bool rootAllowed = false, string what = "key")
    {
        if (Malformed(value, kind, what) is { } problem) throw problem;
        var key = value!;
        var root = roots.FirstOrDefault(r => key.StartsWith(r, StringComparison.Ordinal));
        if (root is null)
            throw new FilesRefusedException(StatusCodes.Status403Forbidden,
                $"The {what} '{Shown(key)}' is not in one of your folders. Yours are: {string.Join(", ", roots)}. Use a key that starts with one of them.");
        if (key == root && !rootAllowed)
            throw new FilesRefusedException(StatusCodes.Status400BadRequest,
                $"'{key}' is one of your top folders itself, which cannot be created, moved or deleted. Choose a file or folder inside it.");
        return key;
    }

    /// <summary>What is wrong with the form of <paramref name="value"/> (400), whoever's it is; null when nothing is.</summary>
    public static FilesRefusedException? Malformed(string? value, KeyKind kind, string what = "key")
    {
        if (string.IsNullOrEmpty(value)) return Bad($"No {what} was given. Send the full key, like home/1a2b3c4d/{(kind == KeyKind.Folder ? "reports/" : "reports/q1.csv")}.");
        if (HasLoneSurrogate(value)) return Bad($"The {what} is not valid Unicode (it has half of a UTF-16 surrogate pair). Type the name again.");
        var key = value;
        foreach (var c in key)
            if (c < ' ' || c == '\u007F')
                return Bad($"The {what} contains a control character (U+{(int)c:X4}). Remove it and try again.");
        if (key.StartsWith('/')) return Bad($"The {what} '{Shown(key)}' starts with '/'. Keys start with your folder, like home/1a2b3c4d/.", unsafePath: true);
        if (key.Contains('\\')) return Bad($"The {what} '{Shown(key)}' contains '\\'. Folders are separated by '/': use that, or remove the backslash from the name.", unsafePath: true);
        if (PercentEscape().IsMatch(key))
            return Bad($"The {what} '{Shown(key)}' contains a percent-escape ({PercentEscape().Match(key).Value}). Send the name itself, not URL-encoded, in the JSON body or query value.", unsafePath: true);
        var bytes = Encoding.UTF8.GetByteCount(key);
        if (bytes > MaxKeyBytes) return Bad($"The {what} is {bytes:N0} bytes long in UTF-8; S3 takes at most {MaxKeyBytes:N0}. Use shorter names or fewer folders.");
        if (kind == KeyKind.File && key.EndsWith('/')) return Bad($"'{Shown(key)}' ends with '/', so it is a folder, not a file. Send a file's key.");
        if (kind == KeyKind.Folder && !key.EndsWith('/')) return Bad($"A folder's key ends with '/': '{Shown(key)}' does not. Add the '/'.");

        var names = (kind == KeyKind.Folder ? key[..^1] : key).Split('/');
        foreach (var name in names)
        {
            if (name.Length == 0) return Bad($"The {what} '{Shown(key)}' has an empty name between two '/'. Remove the extra '/'.", unsafePath: true);
            if (name is "." or "..") return Bad($"The {what} '{Shown(key)}' has a '{name}' folder, which S3 keys may not use here. Name the folder itself.", unsafePath: true);
            if (name.EndsWith(' ') || name.EndsWith('.'))
                return Bad($"The name '{Shown(name)}' in '{Shown(key)}' ends with a {(name.EndsWith(' ') ? "space" : "dot")}, which other systems drop or refuse. Remove it.");
            var nameBytes = Encoding.UTF8.GetByteCount(name);
            if (nameBytes > MaxNameBytes) return Bad($"The name '{Shown(name)}' is {nameBytes:N0} bytes long in UTF-8; names may be at most {MaxNameBytes}. Shorten it.");
        }

        return null;
    }

    /// <summary>The last name of a key or prefix: <c>q1.csv</c> of <c>home/1a2b3c4d/reports/q1.csv</c>, <c>reports</c> of <c>home/1a2b3c4d/reports/</c>.</summary>
    public static string NameOf(string key)
    {
        var trimmed = key.TrimEnd('/');
        return trimmed[(trimmed.LastIndexOf('/') + 1)..];
    }

    /// <summary>A Content-Disposition that downloads the file under its own name, in any script (RFC 6266 and 8187).</summary>
    public static string Attachment(string key)
    {
        var name = NameOf(key);
        var ascii = new string([.. name.Select(c => c is < ' ' or > '~' or '"' or '\\' or '%' ? '_' : c)]);
        var encoded = new StringBuilder();
        foreach (var b in Encoding.UTF8.GetBytes(name))
        {
            // RFC 8187's attr-char is kept; every other byte is escaped.
            if (char.IsAsciiLetterOrDigit((char)b) || "!#$&+-.^_`|~".Contains((char)b)) encoded.Append((char)b);
            else encoded.Append('%').Append(b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
        }

        return $"attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}";
    }

    private static bool HasLoneSurrogate(string value)
    {
        for (var i = 0; i < value.Length; i++)
        {
            if (char.IsHighSurrogate(value[i]) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1])) i++;
            else if (char.IsSurrogate(value[i])) return true;
        }

        return false;
    }

    private static FilesRefusedException Bad(string detail, bool unsafePath = false) => new(StatusCodes.Status400BadRequest, detail, unsafePath);

    /// <summary>A key as it can be shown back: no control characters, and not the whole of a very long one.</summary>
    private static string Shown(string key)
    {
        var shown = new string([.. key.Take(120).Select(c => char.IsControl(c) ? '?' : c)]);
        return key.Length > 120 ? shown + "…" : shown;
    }

    [GeneratedRegex("%[0-9A-Fa-f]{2}")]
    private static partial Regex PercentEscape();
}
