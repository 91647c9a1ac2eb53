using System.Text;
using System.Text.RegularExpressions;

namespace DataWorkspace.Sidecars.S3Sync;

/// <summary>
/// Glob patterns (<c>*</c>, <c>?</c>) for paths neither uploaded nor downloaded. A pattern without <c>/</c> matches any one
/// name in the path, so <c>__pycache__</c> leaves out such folders wherever they are and all they hold; a pattern with
/// <c>/</c> matches the path from the synced folder's top (<c>data/*.tmp</c>).
/// </summary>
public sealed class ExcludePatterns
{
    private readonly Regex[] names;
    private readonly Regex[] paths;
    private readonly string[] patterns;

    private ExcludePatterns(Regex[] names, Regex[] paths, string[] patterns) => (this.names, this.paths, this.patterns) = (names, paths, patterns);

    public static ExcludePatterns? Create(IEnumerable<string> patterns, out string? problem)
    {
        var names = new List<Regex>();
        var paths = new List<Regex>();
        var given = new List<string>();
        foreach (var raw in patterns.SelectMany(p => p.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)))
        {
            var pattern = raw.Trim('/');
            if (pattern.Length == 0)
            {
                problem = $"--exclude '{raw}' matches nothing: give a name or glob such as __pycache__ or *.swp.";
                return null;
            }
            (pattern.Contains('/') ? paths : names).Add(ToRegex(pattern));
            given.Add(pattern);
        }
        problem = null;
        return new ExcludePatterns([.. names], [.. paths], [.. given]);
    }

    /// <summary>Whether a relative path (with <c>/</c>, no leading or trailing one) or anything above it is excluded.</summary>
    public bool IsExcluded(string relativePath)
    {
        var segments = relativePath.Split('/', StringSplitOptions.RemoveEmptyEntries);
        foreach (var segment in segments)
            foreach (var name in names)
                if (name.IsMatch(segment))
                    return true;
        if (paths.Length == 0)
            return false;
        for (var length = 1; length <= segments.Length; length++)
        {
            var path = string.Join('/', segments, 0, length);
            foreach (var pattern in paths)
                if (pattern.IsMatch(path))
                    return true;
        }
        return false;
    }

    public override string ToString() => patterns.Length == 0 ? "nothing" : string.Join(", ", patterns);

    private static Regex ToRegex(string glob)
    {
        var regex = new StringBuilder("^");
        foreach (var c in glob)
            regex.Append(c switch { '*' => "[^/]*", '?' => "[^/]", _ => Regex.Escape(c.ToString()) });
        return new Regex(regex.Append('$').ToString(), RegexOptions.CultureInvariant | RegexOptions.Singleline);
    }
}
