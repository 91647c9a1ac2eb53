using System.Text.Json;
using System.Text.RegularExpressions;

namespace DataWorkspace.Sidecars.DnsRewrite;

/// <summary>One rule: a name matching <see cref="Pattern"/> is looked up upstream as <c>Pattern.Replace(name, Replacement)</c>.</summary>
public sealed record RewriteRule(Regex Pattern, string Replacement)
{
    public const string Separator = "=>";

    private const RegexOptions Options = RegexOptions.IgnoreCase | RegexOptions.CultureInvariant;

    // Only for patterns the linear-time engine cannot run (lookarounds, backreferences): names come from the tools, so
    // such a pattern must not let one query hold a thread; long, since a CPU-throttled container stalls threads for
    // up to a whole 100 ms quota period and a name the rule matches would then be refused.
    private static readonly TimeSpan MatchTimeout = TimeSpan.FromSeconds(1);

    /// <summary>A rule from its pattern and replacement, or the reason it is not one.</summary>
    public static RewriteRule? Create(string pattern, string replacement, out string? problem)
    {
        problem = null;
        if (string.IsNullOrWhiteSpace(pattern))
            problem = "the pattern is empty";
        else if (string.IsNullOrWhiteSpace(replacement))
            problem = $"the replacement for '{pattern}' is empty";
        if (problem is not null)
            return null;
        try
        {
            // Linear in the name's length whatever the pattern, so it needs no timeout.
            return new RewriteRule(new Regex(pattern, Options | RegexOptions.NonBacktracking), replacement);
        }
        catch (NotSupportedException)
        {
            return new RewriteRule(new Regex(pattern, Options | RegexOptions.Compiled, MatchTimeout), replacement);
        }
        catch (ArgumentException exception)
        {
            problem = $"'{pattern}' is not a valid .NET regular expression: {exception.Message}";
            return null;
        }
    }

    /// <summary>A rule from <c>regex=&gt;replacement</c> (split at the last <c>=&gt;</c>, since a name never contains <c>&gt;</c>).</summary>
    public static RewriteRule? Parse(string text, out string? problem)
    {
        var at = text.LastIndexOf(Separator, StringComparison.Ordinal);
        if (at < 0)
        {
            problem = $"'{text}' is not of the form 'regex{Separator}replacement'";
            return null;
        }
        return Create(text[..at], text[(at + Separator.Length)..], out problem);
    }

    public override string ToString() => $"{Pattern}{Separator}{Replacement}";
}

/// <summary>The ordered rules: the first whose pattern matches a name decides the name's upstream name.</summary>
public sealed class RewriteRules(IReadOnlyList<RewriteRule> rules)
{
    public IReadOnlyList<RewriteRule> Rules { get; } = rules;

    /// <summary>The upstream name for <paramref name="name"/> (written without the final dot), or null when no rule matches.</summary>
    /// <exception cref="RegexMatchTimeoutException">A rule's pattern took too long on this name.</exception>
    public string? Rewrite(string name, out int ruleNumber)
    {
        for (var index = 0; index < Rules.Count; index++)
        {
            var rule = Rules[index];
            if (!rule.Pattern.IsMatch(name))
                continue;
            ruleNumber = index + 1;
            return rule.Pattern.Replace(name, rule.Replacement);
        }
        ruleNumber = 0;
        return null;
    }

    /// <summary>Rules from a JSON array of <c>{"pattern": "...", "replacement": "..."}</c> objects, in order.</summary>
    public static IReadOnlyList<RewriteRule> ParseJson(string json, out string? problem)
    {
        problem = null;
        var rules = new List<RewriteRule>();
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException exception)
        {
            problem = $"it is not JSON: {exception.Message}";
            return rules;
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Array)
            {
                problem = "it must be a JSON array of {\"pattern\": ..., \"replacement\": ...} objects";
                return rules;
            }
            var number = 0;
            foreach (var element in document.RootElement.EnumerateArray())
            {
                number++;
                if (element.ValueKind != JsonValueKind.Object
                    || !element.TryGetProperty("pattern", out var pattern) || pattern.ValueKind != JsonValueKind.String
                    || !element.TryGetProperty("replacement", out var replacement) || replacement.ValueKind != JsonValueKind.String)
                {
                    problem = $"item {number} is not an object with string properties \"pattern\" and \"replacement\"";
                    return rules;
                }
                var rule = RewriteRule.Create(pattern.GetString()!, replacement.GetString()!, out var ruleProblem);
                if (rule is null)
                {
                    problem = $"item {number}: {ruleProblem}";
                    return rules;
                }
                rules.Add(rule);
            }
        }
        return rules;
    }
}
