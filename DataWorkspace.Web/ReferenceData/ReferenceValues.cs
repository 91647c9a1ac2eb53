using System.Globalization;

namespace DataWorkspace.Web.ReferenceData;

/// <summary>Checks and normalises one cell for its column's type; the stored text is what PostgreSQL will parse.</summary>
public static class ReferenceValues
{
    public static (string? Value, string? Error) Normalise(ReferenceColumn column, string? raw)
    {
        var text = raw?.Trim() ?? "";
        if (text.Length == 0)
            return column.Required ? (null, $"'{column.Name}' is required") : (null, null);
        // PostgreSQL's text cannot hold U+0000, so the row could not be stored: said here, with the line it is on.
        if (text.Contains('\0'))
            return (null, $"'{column.Name}' contains a NUL character (U+0000), which cannot be stored; remove it");

        switch (column.Type)
        {
            case ReferenceColumnType.Integer:
                return long.TryParse(text, NumberStyles.AllowLeadingSign | NumberStyles.AllowThousands, CultureInfo.InvariantCulture, out var whole)
                    ? (whole.ToString(CultureInfo.InvariantCulture), null)
                    : (null, $"'{column.Name}' must be a whole number, not '{Shorten(text)}'");
            case ReferenceColumnType.Decimal:
                return decimal.TryParse(text, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowThousands, CultureInfo.InvariantCulture, out var number)
                    ? (number.ToString(CultureInfo.InvariantCulture), null)
                    : (null, $"'{column.Name}' must be a number such as 12.5, not '{Shorten(text)}'");
            case ReferenceColumnType.Date:
                return DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date)
                    ? (date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), null)
                    : (null, $"'{column.Name}' must be a date as YYYY-MM-DD, not '{Shorten(text)}'");
            case ReferenceColumnType.Boolean:
                return text.ToLowerInvariant() switch
                {
                    "true" or "yes" or "1" => ("true", null),
                    "false" or "no" or "0" => ("false", null),
                    _ => (null, $"'{column.Name}' must be true or false, not '{Shorten(text)}'"),
                };
            default:
                return text.Length > 10_000 ? (null, $"'{column.Name}' is longer than 10,000 characters") : (text, null);
        }
    }

    public static string SqlType(ReferenceColumnType type) => type switch
    {
        ReferenceColumnType.Integer => "bigint",
        ReferenceColumnType.Decimal => "numeric",
        ReferenceColumnType.Date => "date",
        ReferenceColumnType.Boolean => "boolean",
        _ => "text",
    };

    private static string Shorten(string text) => text.Length > 40 ? text[..40] + "…" : text;
}
