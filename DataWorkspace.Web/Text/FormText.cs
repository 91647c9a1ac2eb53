namespace DataWorkspace.Web.Text;

public static class FormText
{
    /// <summary>The non-blank lines of a textarea, trimmed: how the admin forms take lists.</summary>
    public static IEnumerable<string> Lines(string? text) =>
        (text ?? "").Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
}
