using System.Text.Json;

namespace DataWorkspace.Web.Storage;

/// <summary>One thing a request asks of a policy: an action on a resource, with the request's condition keys.</summary>
public sealed record AccessCheck(string Action, string Resource, IReadOnlyDictionary<string, string>? Keys = null)
{
    public override string ToString() => Keys is { Count: > 0 }
        ? $"{Action} on {Resource} ({string.Join(", ", Keys.Select(k => $"{k.Key} = '{k.Value}'"))})"
        : $"{Action} on {Resource}";
}

/// <summary>
/// An IAM policy document, evaluated as AWS evaluates one for the elements the platform's session policies use:
/// Allow and Deny statements, Action and Resource (with <c>*</c> and <c>?</c> wildcards) and the String condition
/// operators. An explicit Deny wins, and what no statement allows is denied. A document with any other element is
/// refused when read, rather than evaluated wrongly.
/// </summary>
public sealed class AccessPolicy
{
    private static readonly HashSet<string> Operators = ["StringEquals", "StringNotEquals", "StringLike", "StringNotLike"];
    private readonly List<Statement> statements;

    private AccessPolicy(List<Statement> statements) => this.statements = statements;

    public static AccessPolicy Parse(string json)
    {
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement.GetProperty("Statement");
        var elements = root.ValueKind == JsonValueKind.Array ? [.. root.EnumerateArray()] : new List<JsonElement> { root };
        return new AccessPolicy([.. elements.Select(ReadStatement)]);
    }

    public bool Allows(AccessCheck check)
    {
        var allowed = false;
        foreach (var statement in statements.Where(s => s.Applies(check)))
        {
            if (!statement.Allow) return false;
            allowed = true;
        }

        return allowed;
    }

    private static Statement ReadStatement(JsonElement element)
    {
        foreach (var property in element.EnumerateObject())
            if (property.Name is not ("Sid" or "Effect" or "Action" or "Resource" or "Condition"))
                throw new FormatException($"The policy's statements may not use {property.Name}: the local evaluation does not support it.");
        var effect = element.GetProperty("Effect").GetString();
        if (effect is not ("Allow" or "Deny")) throw new FormatException($"A statement's Effect must be Allow or Deny, not {effect}.");
        var conditions = new List<Condition>();
        if (element.TryGetProperty("Condition", out var condition))
            foreach (var op in condition.EnumerateObject())
            {
                if (!Operators.Contains(op.Name)) throw new FormatException($"The condition operator {op.Name} is not supported by the local evaluation.");
                conditions.AddRange(op.Value.EnumerateObject().Select(key => new Condition(op.Name, key.Name, Strings(key.Value))));
            }

        return new Statement(effect == "Allow", Strings(element.GetProperty("Action")), Strings(element.GetProperty("Resource")), conditions);
    }

    private static List<string> Strings(JsonElement element) =>
        element.ValueKind == JsonValueKind.Array ? [.. element.EnumerateArray().Select(e => e.GetString() ?? "")] : [element.GetString() ?? ""];

    /// <summary>IAM's wildcard match: <c>*</c> any run of characters, <c>?</c> any one.</summary>
    internal static bool Matches(string pattern, string value, bool ignoreCase = false)
    {
        int p = 0, v = 0, star = -1, resume = 0;
        while (v < value.Length)
        {
            if (p < pattern.Length && pattern[p] == '*')
            {
                (star, resume) = (p++, v);
            }
            else if (p < pattern.Length && (pattern[p] == '?' || Same(pattern[p], value[v])))
            {
                (p, v) = (p + 1, v + 1);
            }
            else if (star >= 0)
            {
                (p, v) = (star + 1, ++resume);
            }
            else
            {
                return false;
            }
        }

        while (p < pattern.Length && pattern[p] == '*') p++;
        return p == pattern.Length;

        bool Same(char a, char b) => a == b || (ignoreCase && char.ToUpperInvariant(a) == char.ToUpperInvariant(b));
    }

    private sealed record Statement(bool Allow, List<string> Actions, List<string> Resources, List<Condition> Conditions)
    {
        // Action names are case-insensitive in IAM; resource ARNs and condition values are not.
        public bool Applies(AccessCheck check) =>
            Actions.Any(a => Matches(a, check.Action, ignoreCase: true))
            && Resources.Any(r => Matches(r, check.Resource))
            && Conditions.All(c => c.Holds(check.Keys));
    }

    private sealed record Condition(string Operator, string Key, List<string> Values)
    {
        public bool Holds(IReadOnlyDictionary<string, string>? keys)
        {
            // As in IAM: a key the request does not have satisfies no positive operator, and every negated one.
            if (keys?.TryGetValue(Key, out var value) != true) return Operator.Contains("Not", StringComparison.Ordinal);
            var matched = Operator.EndsWith("Like", StringComparison.Ordinal)
                ? Values.Any(pattern => Matches(pattern, value!))
                : Values.Contains(value!, StringComparer.Ordinal);
            return Operator.Contains("Not", StringComparison.Ordinal) ? !matched : matched;
        }
    }
}
