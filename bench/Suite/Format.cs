using System.Globalization;
using System.Text;

namespace DataWorkspace.Bench.Suite;

internal static class Format
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static string Duration(TimeSpan time) =>
        time.TotalHours >= 1 ? time.ToString(@"h\:mm\:ss", Invariant) : time.ToString(@"m\:ss", Invariant);

    /// <summary>Three significant figures or so, with thousands separators: 12,345; 123.4; 1.23; 0.0123.</summary>
    public static string Number(double value)
    {
        if (double.IsNaN(value) || double.IsInfinity(value)) return value.ToString(Invariant);
        var magnitude = Math.Abs(value);
        var pattern = magnitude >= 100 || magnitude == 0 ? "#,0" : magnitude >= 10 ? "#,0.#" : magnitude >= 1 ? "#,0.##" : "#,0.###";
        var text = value.ToString(pattern, Invariant);
        return text is "0" or "-0" && magnitude > 0 ? value.ToString("G3", Invariant) : text;
    }

    public static string WithUnit(double value, string unit) => string.IsNullOrEmpty(unit) ? Number(value) : $"{Number(value)} {unit}";

    public static string Ratio(double? ratio) => ratio is { } r ? r.ToString("0.00", Invariant) + "x" : "";

    /// <summary>A name safe as a file name: lower case letters, digits and dashes.</summary>
    public static string Slug(string text)
    {
        var slug = new StringBuilder();
        foreach (var c in text.ToLowerInvariant())
            slug.Append(char.IsAsciiLetterOrDigit(c) ? c : '-');
        var result = string.Join('-', slug.ToString().Split('-', StringSplitOptions.RemoveEmptyEntries));
        return result.Length > 80 ? result[..80] : result;
    }
}
