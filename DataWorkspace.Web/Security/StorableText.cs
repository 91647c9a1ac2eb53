namespace DataWorkspace.Web.Security;

/// <summary>
/// Text the portal can take: PostgreSQL stores no NUL character, and a lone UTF-16 surrogate is not a character at all
/// (it cannot be written as UTF-8); and no value longer than its limit.
/// </summary>
public static class StorableText
{
    /// <summary>
    /// A query string or route value. No address the portal makes comes near it, and it is the whole request line
    /// Kestrel takes by default, so only a hand-made request meets it.
    /// </summary>
    public const int AddressValueLength = 8 * 1024;

    /// <summary>A form field: names, descriptions, reasons, comments (each feature has tighter limits of its own).</summary>
    public const int FieldLength = 32 * 1024;

    /// <summary>A form field a page declares long with <see cref="LongTextAttribute"/>: markdown and SQL, more than twice the Data Explorer's longest query.</summary>
    public const int LongTextLength = 256 * 1024;

    /// <summary>
    /// A string in a JSON body: far beyond any field the APIs take, so that each feature's own limit (and its advice)
    /// speaks first; this only stops what no feature could want.
    /// </summary>
    public const int JsonTextLength = 1024 * 1024;

    /// <summary>What is wrong with <paramref name="value"/>, as the end of a sentence naming it; null when nothing is.</summary>
    public static string? Problem(ReadOnlySpan<char> value, int limit)
    {
        if (value.Length > limit)
            return $"is {value.Length:N0} characters long; the limit is {limit:N0}. Shorten it and try again.";
        if (value.Contains('\0'))
            return "contains a NUL character (U+0000), which cannot be stored. Remove it and try again.";
        if (value.IndexOfAnyInRange('\uD800', '\uDFFF') >= 0 && HasLoneSurrogate(value)) return BrokenCharacter;
        return null;
    }

    public const string BrokenCharacter = "contains a broken character (half of a UTF-16 surrogate pair). Type or paste the text again as plain text.";

    private static bool HasLoneSurrogate(ReadOnlySpan<char> value)
    {
        for (var i = 0; i < value.Length; i++)
        {
            if (char.IsHighSurrogate(value[i]) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1])) i++;
            else if (char.IsSurrogate(value[i])) return true;
        }

        return false;
    }
}

/// <summary>
/// Page metadata: these form fields (by their form names, <c>Form.Description</c>) take up to
/// <see cref="StorableText.LongTextLength"/> characters instead of <see cref="StorableText.FieldLength"/>.
/// </summary>
[AttributeUsage(AttributeTargets.Class)]
public sealed class LongTextAttribute(params string[] fields) : Attribute
{
    public IReadOnlyList<string> Fields { get; } = fields;
}
