using System.Buffers;
using System.Data.Common;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Unicode;
using SpreadCheetah;
using SpreadCheetah.Styling;
using SpreadCheetah.Worksheets;

namespace DataWorkspace.Web.Explorer;

/// <summary>
/// Writes a query's result as a download (JSON or an Excel workbook) straight from the database reader to the response
/// body, so memory stays flat whatever the number of rows: the bytes go out every 64 KB or so. The response body takes
/// only asynchronous writes and cannot seek; the workbook, written by SpreadCheetah, needs no seeking either.
/// </summary>
public static class ResultFiles
{
    public const string JsonContentType = "application/json";
    public const string XlsxContentType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

    /// <summary>Excel's 1,048,576 rows a sheet, less the header row.</summary>
    internal const int XlsxMaxRows = 1_048_575;

    /// <summary>The most characters Excel holds in one cell.</summary>
    internal const int XlsxMaxCellLength = 32_767;

    private const int SendEveryBytes = 64 * 1024;

    // Every script and letter as itself rather than \uXXXX, so a downloaded file reads in any language; the
    // characters that matter to HTML stay escaped.
    private static readonly JavaScriptEncoder JsonEncoder = JavaScriptEncoder.Create(UnicodeRanges.All);

    // Cells say where they are, as some readers need; leading and trailing spaces in text are kept.
    private static readonly SpreadCheetahOptions SheetOptions = new()
    {
        BufferSize = SendEveryBytes,
        WriteCellReferenceAttributes = true,
        PreserveStringWhitespace = true,
    };

    // Excel counts days from 1900 with 1900 taken as a leap year, so only dates from March 1900 on are right as dates.
    private static readonly DateTime ExcelFirstDate = new(1900, 3, 1);

    // Characters worth a closer look: the controls XML 1.0 forbids, surrogates (valid only in pairs), U+FFFE and U+FFFF.
    private static readonly SearchValues<char> SuspectXmlChars = SearchValues.Create(
        Enumerable.Range(0, 0x20).Where(c => c is not (0x09 or 0x0A or 0x0D))
            .Concat(Enumerable.Range(0xD800, 0x800))
            .Concat([0xFFFE, 0xFFFF])
            .Select(c => (char)c)
            .ToArray());

    /// <summary>
    /// Writes a JSON array with one object per row, keyed by column name (a repeated name gets _2, _3...). Returns the
    /// number of rows written.
    /// </summary>
    public static async Task<long> WriteJsonAsync(DbDataReader reader, Stream output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(output);

        var names = UniqueColumnNames(reader).Select(name => JsonEncodedText.Encode(name, JsonEncoder)).ToArray();
        var values = new object[names.Length];
        await using var json = new Utf8JsonWriter(output, new JsonWriterOptions { Encoder = JsonEncoder });
        json.WriteStartArray();
        long rows = 0;
        while (await reader.ReadAsync(cancellationToken))
        {
            reader.GetValues(values);
            json.WriteStartObject();
            for (var i = 0; i < names.Length; i++)
            {
                json.WritePropertyName(names[i]);
                WriteJsonValue(json, values[i]);
            }

            json.WriteEndObject();
            rows++;
            if (json.BytesPending >= SendEveryBytes) await json.FlushAsync(cancellationToken);
        }

        json.WriteEndArray();
        await json.FlushAsync(cancellationToken);
        return rows;
    }

    /// <summary>
    /// Writes an Excel workbook with one sheet, "Results": a bold header row of column names, then one row per result
    /// row. A result longer than Excel holds ends in a row that says it was cut short. Returns the number of data rows
    /// written.
    /// </summary>
    public static Task<long> WriteXlsxAsync(DbDataReader reader, Stream output, CancellationToken cancellationToken) =>
        WriteXlsxAsync(reader, output, XlsxMaxRows, cancellationToken);

    /// <summary>
    /// As the public overload, with <paramref name="maxRows"/> data rows at most under the header. A longer result
    /// gives <paramref name="maxRows"/> - 1 data rows and the row that says so, keeping the sheet within the limit.
    /// </summary>
    internal static async Task<long> WriteXlsxAsync(DbDataReader reader, Stream output, int maxRows, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRows, 1);

        var unsent = new UnsentBytes();
        long rows;
        await using (var workbook = await Spreadsheet.CreateNewAsync(unsent, SheetOptions, cancellationToken))
        {
            rows = await WriteSheetAsync(workbook, reader, unsent, output, maxRows, cancellationToken);
        }

        await unsent.SendAsync(output, cancellationToken);
        return rows;
    }

    private static async Task<long> WriteSheetAsync(Spreadsheet workbook, DbDataReader reader, UnsentBytes unsent, Stream output, int maxRows, CancellationToken cancellationToken)
    {
        await workbook.StartWorksheetAsync("Results", new WorksheetOptions { FrozenRows = 1 }, cancellationToken);
        var bold = workbook.AddStyle(new Style { Font = { Bold = true } });
        var dateOnly = workbook.AddStyle(new Style { Format = NumberFormat.Custom("yyyy-mm-dd") });
        var dateColumns = Enumerable.Range(0, reader.FieldCount).Select(i => reader.GetDataTypeName(i) == "date").ToArray();
        await workbook.AddHeaderRowAsync(Enumerable.Range(0, reader.FieldCount).Select(i => SheetText(reader.GetName(i))).ToArray(), bold, cancellationToken);

        var values = new object[reader.FieldCount];
        var cells = new StyledCell[reader.FieldCount];
        long rows = 0;
        while (await reader.ReadAsync(cancellationToken))
        {
            // The last row the sheet holds is this one only if the result ends here; otherwise it says the rest is missing.
            if (rows == maxRows - 1 && await reader.ReadAsync(cancellationToken))
            {
                await workbook.AddRowAsync([new DataCell(
                    $"Truncated: Excel holds at most {maxRows.ToString("N0", CultureInfo.InvariantCulture)} rows; download CSV for the whole result.")], cancellationToken);
                break;
            }

            reader.GetValues(values);
            for (var i = 0; i < values.Length; i++) cells[i] = new StyledCell(SheetCell(values[i]), dateColumns[i] ? dateOnly : null);
            await workbook.AddRowAsync(cells, cancellationToken);
            rows++;
            if (unsent.Count >= SendEveryBytes) await unsent.SendAsync(output, cancellationToken);
        }

        await workbook.FinishAsync(cancellationToken);
        return rows;
    }

    /// <summary>
    /// A value in the kind of cell Excel has for it: numbers and booleans as themselves, dates and times as dates
    /// (shown as ISO 8601), the rest as text.
    /// </summary>
    private static DataCell SheetCell(object value) => value switch
    {
        DBNull => default,
        bool v => new DataCell(v),
        byte or sbyte or short or ushort or int => new DataCell(Convert.ToInt32(value, CultureInfo.InvariantCulture)),
        uint or long => new DataCell(Convert.ToInt64(value, CultureInfo.InvariantCulture)),
        ulong v => new DataCell((decimal)v),
        decimal v => new DataCell(v),
        float v when float.IsFinite(v) => new DataCell(v),
        double v when double.IsFinite(v) => new DataCell(v),
        DateTime v when v >= ExcelFirstDate => new DataCell(v),
        DateTimeOffset v when v.UtcDateTime >= ExcelFirstDate => new DataCell(v.UtcDateTime),
        DateOnly v when v.ToDateTime(TimeOnly.MinValue) >= ExcelFirstDate => new DataCell(v.ToDateTime(TimeOnly.MinValue)),
        _ => new DataCell(SheetText(Text(value))),
    };

    /// <summary>
    /// Text as a cell holds it: line breaks as Excel's own (a line feed; XML readers would turn a carriage return into
    /// one anyway), without the characters XML cannot carry, at most Excel's longest text.
    /// </summary>
    private static string SheetText(string text) => XmlText(text.Contains('\r') ? text.ReplaceLineEndings("\n") : text, XlsxMaxCellLength);

    private static void WriteJsonValue(Utf8JsonWriter json, object? value)
    {
        switch (value)
        {
            case null or DBNull: json.WriteNullValue(); break;
            case bool v: json.WriteBooleanValue(v); break;
            case byte v: json.WriteNumberValue(v); break;
            case sbyte v: json.WriteNumberValue(v); break;
            case short v: json.WriteNumberValue(v); break;
            case ushort v: json.WriteNumberValue(v); break;
            case int v: json.WriteNumberValue(v); break;
            case uint v: json.WriteNumberValue(v); break;
            case long v: json.WriteNumberValue(v); break;
            case ulong v: json.WriteNumberValue(v); break;
            case decimal v: json.WriteNumberValue(v); break;
            case float v when float.IsFinite(v): json.WriteNumberValue(v); break;
            case double v when double.IsFinite(v): json.WriteNumberValue(v); break;
            case string v: json.WriteStringValue(v); break;
            case DateTime v: json.WriteStringValue(v); break;
            case DateTimeOffset v: json.WriteStringValue(v); break;
            case Guid v: json.WriteStringValue(v); break;
            case byte[] v: json.WriteBase64StringValue(v); break;
            case Array v:
                json.WriteStartArray();
                foreach (var element in v) WriteJsonValue(json, element);
                json.WriteEndArray();
                break;
            default: json.WriteStringValue(Text(value)); break;
        }
    }

    /// <summary>A value as text for a person: ISO 8601 for dates and times, base64 for bytes, invariant culture for the rest.</summary>
    private static string Text(object value) => value switch
    {
        string v => v,
        DateTime v => v.ToString(v.Kind == DateTimeKind.Utc ? "yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'" : "yyyy-MM-dd'T'HH:mm:ss.FFFFFFF", CultureInfo.InvariantCulture),
        DateTimeOffset v => v.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFFzzz", CultureInfo.InvariantCulture),
        DateOnly v => v.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
        TimeOnly v => v.ToString("HH:mm:ss.FFFFFFF", CultureInfo.InvariantCulture),
        byte[] v => Convert.ToBase64String(v),
        Array v => "{" + string.Join(",", v.Cast<object?>().Select(element => element is null or DBNull ? "NULL" : Text(element))) + "}",
        _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "",
    };

    /// <summary>The column names, a repeated one suffixed _2, _3... so that each is a distinct key.</summary>
    internal static string[] UniqueColumnNames(DbDataReader reader)
    {
        var names = new string[reader.FieldCount];
        var taken = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < names.Length; i++)
        {
            var name = reader.GetName(i);
            var unique = name;
            for (var suffix = 2; !taken.Add(unique); suffix++) unique = $"{name}_{suffix}";
            names[i] = unique;
        }

        return names;
    }

    /// <summary>
    /// The text without the characters XML 1.0 cannot hold, cut to at most <paramref name="maxLength"/> UTF-16 units
    /// without splitting a surrogate pair.
    /// </summary>
    private static string XmlText(string text, int maxLength)
    {
        if (text.Length <= maxLength && text.AsSpan().IndexOfAny(SuspectXmlChars) < 0) return text;

        var kept = new StringBuilder(Math.Min(text.Length, maxLength));
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            var width = c switch
            {
                '\t' or '\n' or '\r' => 1,
                < ' ' => 0,
                >= '\uD800' and <= '\uDBFF' => i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]) ? 2 : 0,
                >= '\uDC00' and <= '\uDFFF' => 0,
                '\uFFFE' or '\uFFFF' => 0,
                _ => 1,
            };
            if (kept.Length + width > maxLength) break;
            if (width == 0) continue;
            kept.Append(c);
            if (width == 2) kept.Append(text[++i]);
        }

        return kept.ToString();
    }

    /// <summary>
    /// Holds what the workbook's zip archive writes until it is sent to the response. The archive writes synchronously
    /// and the response body takes asynchronous writes only; the archive sees no seeking and so writes each part front
    /// to back.
    /// </summary>
    private sealed class UnsentBytes : Stream
    {
        private readonly MemoryStream bytes = new();

        public int Count => (int)bytes.Length;

        public async Task SendAsync(Stream output, CancellationToken cancellationToken)
        {
            if (bytes.Length > 0) await output.WriteAsync(bytes.GetBuffer().AsMemory(0, Count), cancellationToken);
            await output.FlushAsync(cancellationToken);
            bytes.SetLength(0);
        }

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override void Write(byte[] buffer, int offset, int count) => bytes.Write(buffer, offset, count);
        public override void Write(ReadOnlySpan<byte> buffer) => bytes.Write(buffer);
        public override void WriteByte(byte value) => bytes.WriteByte(value);

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            bytes.Write(buffer.Span);
            return ValueTask.CompletedTask;
        }

        public override void Flush()
        {
        }

        public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
