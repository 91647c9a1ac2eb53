using System.Globalization;
using System.Text;
using CsvHelper;

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

    /// <summary>As <see cref="LooksLikeFormula(ReadOnlySpan{char})"/>, for a value in UTF-8.</summary>
    public static bool LooksLikeFormula(ReadOnlySpan<byte> utf8) =>
        utf8.Length > 0 && utf8[0] is (byte)'=' or (byte)'+' or (byte)'-' or (byte)'@' or (byte)'\t' or (byte)'\r'
        && !double.TryParse(utf8, NumberStyles.Float, CultureInfo.InvariantCulture, out _);

    /// <summary>
    /// Copies CSV (PostgreSQL's COPY ... (FORMAT csv) output, UTF-8) to <paramref name="output"/> as CSV for people:
    /// each value that looks like a formula gets a leading ' so that a spreadsheet shows it as text. CsvHelper reads and
    /// writes the UTF-8 bytes a record at a time, so memory stays flat and the bytes go out in pieces of about 64 KB.
    /// Returns the records, header included.
    /// </summary>
    public static async Task<long> CopyForPeopleAsync(TextReader csv, Stream output, CancellationToken cancellationToken)
    {
        // COPY's bytes are read as they came (no decoding and encoding again) when the reader has them.
        await using var reader = csv is StreamReader { CurrentEncoding.CodePage: 65001 } bytes
            ? CsvReader.Create(bytes.BaseStream, ReaderOptions, leaveOpen: true)
            : CsvReader.Create(csv, ReaderOptions, leaveOpen: true);
        await using var csvForPeople = new CsvForPeople(output);
        long records = 0;
        // No token on reads: Npgsql registers one on every read call, and a client that goes away still stops the copy
        // at the next write.
        while (await reader.ReadAsync(CancellationToken.None))
        {
            for (var i = 0; i < reader.FieldCount; i++) csvForPeople.Field(reader.GetSpan(i));
            await csvForPeople.EndRowAsync(cancellationToken);
            records++;
        }

        await csvForPeople.FinishAsync(cancellationToken);
        return records;
    }

    private static readonly CsvReaderOptions ReaderOptions = CsvReaderOptions.Default with { HasHeader = false };
}

/// <summary>
/// Writes CSV for people to open in a spreadsheet, through CsvHelper: quoted as RFC 4180 needs, each value that looks
/// like a formula (<see cref="CsvText.LooksLikeFormula(ReadOnlySpan{char})"/>) prefixed with '. The output may take
/// only asynchronous writes; it gets one every 64 KB or so.
/// </summary>
public sealed class CsvForPeople(Stream output) : IAsyncDisposable
{
    private static readonly CsvWriterOptions Options = CsvWriterOptions.Default with
    {
        HasHeader = false,
        NewLine = "\n",
        BufferSize = 64 * 1024,
        ValidateFieldCount = false,
    };

    private readonly CsvWriter writer = CsvWriter.Create(output, Options, leaveOpen: true);
    private byte[] guarded = new byte[256];
    private char[] guardedChars = new char[256];

    /// <summary>Writes a row of values; null is written as an empty field.</summary>
    public async ValueTask RowAsync(IReadOnlyList<string?> values, CancellationToken cancellationToken)
    {
        foreach (var value in values) Field(value.AsSpan());
        await EndRowAsync(cancellationToken);
    }

    internal void Field(ReadOnlySpan<byte> utf8)
    {
        if (!CsvText.LooksLikeFormula(utf8))
        {
            writer.WriteField(utf8);
            return;
        }

        if (guarded.Length < utf8.Length + 1) guarded = new byte[utf8.Length * 2];
        guarded[0] = (byte)'\'';
        utf8.CopyTo(guarded.AsSpan(1));
        writer.WriteField(guarded.AsSpan(0, utf8.Length + 1));
    }

    internal void Field(ReadOnlySpan<char> value)
    {
        if (!CsvText.LooksLikeFormula(value))
        {
            writer.WriteField(value);
            return;
        }

        if (guardedChars.Length < value.Length + 1) guardedChars = new char[value.Length * 2];
        guardedChars[0] = '\'';
        value.CopyTo(guardedChars.AsSpan(1));
        writer.WriteField(guardedChars.AsSpan(0, value.Length + 1));
    }

    internal ValueTask EndRowAsync(CancellationToken cancellationToken) => writer.EndRecordAsync(cancellationToken);

    /// <summary>Sends the rest and flushes the output.</summary>
    public async Task FinishAsync(CancellationToken cancellationToken)
    {
        await writer.FlushAsync(cancellationToken);
        await output.FlushAsync(cancellationToken);
    }

    public ValueTask DisposeAsync() => writer.DisposeAsync();
}
