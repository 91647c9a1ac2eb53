using System.Text;

namespace DataWorkspace.Web.Text;

/// <summary>Reads RFC 4180 CSV: quoted fields with doubled quotes, commas and line breaks inside quotes, CRLF or LF.</summary>
public static class CsvText
{
    /// <summary>The records, each with the line it started on (1-based), or an error naming the line of an unclosed quote.</summary>
    public static (List<(int Line, List<string> Fields)> Records, string? Error) Parse(string text)
    {
        var records = new List<(int, List<string>)>();
        var fields = new List<string>();
        var field = new StringBuilder();
        var line = 1;
        var recordLine = 1;
        var inQuotes = false;
        var fieldStarted = false;

        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (inQuotes)
            {
                if (c == '"' && i + 1 < text.Length && text[i + 1] == '"') { field.Append('"'); i++; }
                else if (c == '"') inQuotes = false;
                else
                {
                    if (c == '\n') line++;
                    field.Append(c);
                }

                continue;
            }

            switch (c)
            {
                case '"' when field.Length == 0:
                    inQuotes = true;
                    fieldStarted = true;
                    break;
                case ',':
                    fields.Add(field.ToString());
                    field.Clear();
                    fieldStarted = true;
                    break;
                case '\r':
                    break;
                case '\n':
                    EndRecord();
                    line++;
                    recordLine = line;
                    break;
                default:
                    field.Append(c);
                    fieldStarted = true;
                    break;
            }
        }

        if (inQuotes) return (records, $"Line {recordLine}: a quoted value is not closed.");
        EndRecord();
        return (records, null);

        void EndRecord()
        {
            if (fieldStarted || field.Length > 0 || fields.Count > 0)
            {
                fields.Add(field.ToString());
                records.Add((recordLine, fields));
            }

            fields = [];
            field.Clear();
            fieldStarted = false;
        }
    }

    public static string Escape(string? value) =>
        value is null ? "" : value.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? "\"" + value.Replace("\"", "\"\"") + "\"" : value;
}
