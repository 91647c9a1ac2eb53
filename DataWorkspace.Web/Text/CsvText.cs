using System.Globalization;
using System.Text;
using nietras.SeparatedValues;

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

    /// <summary>A value quoted as RFC 4180 needs, for CSV that a program reads (PostgreSQL's COPY), not a person.</summary>
    public static string Escape(string? value) =>
        value is null ? "" : value.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? "\"" + value.Replace("\"", "\"\"") + "\"" : value;

    /// <summary>
    /// Whether a spreadsheet opening the CSV would take the value as a formula (OWASP's CSV injection): it starts with
    /// =, +, -, @, a tab or a carriage return, and is not simply a number such as -12.5.
    /// </summary>
    public static bool LooksLikeFormula(ReadOnlySpan<char> value) =>
        value.Length > 0 && value[0] is '=' or '+' or '-' or '@' or '\t' or '\r'
        && !double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out _);

    /// <summary>
    /// Copies CSV (PostgreSQL's COPY ... (FORMAT csv) output) to <paramref name="output"/> as UTF-8 CSV for people,
    /// each value that looks like a formula prefixed with ' so that a spreadsheet shows it as text. Reads and writes
    /// with Sep a row at a time, so memory stays flat; the bytes go out in pieces of about 64 KB. Returns the records,
    /// header included.
    /// </summary>
    public static async Task<long> CopyForPeopleAsync(TextReader csv, Stream output, CancellationToken cancellationToken)
    {
        // No token on reads: Npgsql registers one on every read call, and a client that goes away still stops the copy
        // at the next write.
        using var reader = await Sep.New(',').Reader(o => o with { HasHeader = false, Unescape = true, DisableColCountCheck = true })
            .FromAsync(csv, CancellationToken.None);
        await using var csvForPeople = new CsvForPeople(output);
        long records = 0;
        await foreach (var row in reader)
        {
            csvForPeople.Row(row);
            records++;
            await csvForPeople.SendIfFullAsync(cancellationToken);
        }

        await csvForPeople.FinishAsync(cancellationToken);
        return records;
    }
}

/// <summary>
/// Writes CSV for people to open in a spreadsheet, through Sep: quoted as RFC 4180 needs, each value that looks like a
/// formula (<see cref="CsvText.LooksLikeFormula"/>) prefixed with '. Rows gather in memory and go to the output, which
/// may take only asynchronous writes, every 64 KB or so.
/// </summary>
public sealed class CsvForPeople : IAsyncDisposable
{
    private const int SendEveryChars = 32 * 1024;
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);

    private readonly Stream output;
    private readonly StringBuilder unsent = new();
    private readonly SepWriter writer;
    private char[] guarded = new char[256];
    private char[] chars = [];
    private byte[] bytes = [];

    public CsvForPeople(Stream output)
    {
        this.output = output;
        writer = Sep.New(',').Writer(o => o with { WriteHeader = false, Escape = true, DisableColCountCheck = true }).To(unsent);
    }

    /// <summary>Adds a row of values; null is written as an empty field.</summary>
    public void Row(IReadOnlyList<string?> values)
    {
        using var row = writer.NewRow();
        for (var i = 0; i < values.Count; i++) Set(row[i], values[i]);
    }

    internal void Row(SepReader.Row values)
    {
        using var row = writer.NewRow();
        for (var i = 0; i < values.ColCount; i++) Set(row[i], values[i].Span);
    }

    /// <summary>Sends what has gathered once it is about 64 KB.</summary>
    public async ValueTask SendIfFullAsync(CancellationToken cancellationToken)
    {
        if (unsent.Length >= SendEveryChars) await SendAsync(cancellationToken);
    }

    /// <summary>Sends the rest and flushes the output.</summary>
    public async Task FinishAsync(CancellationToken cancellationToken)
    {
        writer.Flush();
        await SendAsync(cancellationToken);
        await output.FlushAsync(cancellationToken);
    }

    // Sent between rows only, so no character's two halves are ever sent apart.
    private async Task SendAsync(CancellationToken cancellationToken)
    {
        if (unsent.Length == 0) return;
        if (chars.Length < unsent.Length) chars = new char[unsent.Length * 2];
        unsent.CopyTo(0, chars, unsent.Length);
        var byteCount = Utf8.GetMaxByteCount(unsent.Length);
        if (bytes.Length < byteCount) bytes = new byte[byteCount];
        var length = Utf8.GetBytes(chars.AsSpan(0, unsent.Length), bytes);
        unsent.Clear();
        await output.WriteAsync(bytes.AsMemory(0, length), cancellationToken);
    }

    private void Set(SepWriter.Col col, ReadOnlySpan<char> value)
    {
        if (!CsvText.LooksLikeFormula(value))
        {
            col.Set(value);
            return;
        }

        if (guarded.Length < value.Length + 1) guarded = new char[value.Length * 2];
        guarded[0] = '\'';
        value.CopyTo(guarded.AsSpan(1));
        col.Set(guarded.AsSpan(0, value.Length + 1));
    }

    public ValueTask DisposeAsync()
    {
        writer.Dispose();
        return ValueTask.CompletedTask;
    }
}
