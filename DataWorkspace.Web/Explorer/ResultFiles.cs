using System.Buffers;
using System.Data.Common;
using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Unicode;
using System.Xml;

namespace DataWorkspace.Web.Explorer;

/// <summary>
/// Writes a query's result as a download (JSON or an Excel workbook) straight from the database reader to the response
/// body, so memory stays flat whatever the number of rows: the bytes go out every 64 KB or so. The response body takes
/// only asynchronous writes and cannot seek, and neither writer needs more.
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

    private static readonly XmlWriterSettings SheetSettings = new()
    {
        Encoding = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false),
        // A carriage return in a value is kept as &#xD; rather than turned into the platform's line ending.
        NewLineHandling = NewLineHandling.Entitize,
        CloseOutput = false,
    };

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
        using (var archive = new ZipArchive(unsent, ZipArchiveMode.Create, leaveOpen: true))
        {
            WritePart(archive, "[Content_Types].xml", Workbook.ContentTypes);
            WritePart(archive, "_rels/.rels", Workbook.PackageRelationships);
            WritePart(archive, "xl/workbook.xml", Workbook.Main);
            WritePart(archive, "xl/_rels/workbook.xml.rels", Workbook.MainRelationships);
            WritePart(archive, "xl/styles.xml", Workbook.Styles);
            using var sheet = archive.CreateEntry("xl/worksheets/sheet1.xml", CompressionLevel.Fastest).Open();
            using var xml = XmlWriter.Create(sheet, SheetSettings);
            rows = await WriteSheetAsync(reader, xml, unsent, output, maxRows, cancellationToken);
        }

        await unsent.SendAsync(output, cancellationToken);
        return rows;
    }

    private static async Task<long> WriteSheetAsync(DbDataReader reader, XmlWriter xml, UnsentBytes unsent, Stream output, int maxRows, CancellationToken cancellationToken)
    {
        var columns = Enumerable.Range(0, reader.FieldCount).Select(ColumnLetters).ToArray();
        xml.WriteStartDocument(standalone: true);
        xml.WriteStartElement("worksheet", Workbook.SpreadsheetNamespace);
        xml.WriteStartElement("sheetViews");
        xml.WriteStartElement("sheetView");
        xml.WriteAttributeString("workbookViewId", "0");
        xml.WriteStartElement("pane");
        xml.WriteAttributeString("ySplit", "1");
        xml.WriteAttributeString("topLeftCell", "A2");
        xml.WriteAttributeString("activePane", "bottomLeft");
        xml.WriteAttributeString("state", "frozen");
        xml.WriteEndElement();
        xml.WriteEndElement();
        xml.WriteEndElement();
        xml.WriteStartElement("sheetData");

        StartRow(xml, "1");
        for (var i = 0; i < columns.Length; i++) WriteTextCell(xml, columns[i], "1", reader.GetName(i), Workbook.BoldStyle);
        xml.WriteEndElement();

        var values = new object[columns.Length];
        long rows = 0;
        while (await reader.ReadAsync(cancellationToken))
        {
            reader.GetValues(values);
            var rowNumber = (rows + 2).ToString(CultureInfo.InvariantCulture);
            // The last row the sheet holds is this one only if the result ends here; otherwise it says the rest is missing.
            if (rows == maxRows - 1 && await reader.ReadAsync(cancellationToken))
            {
                StartRow(xml, rowNumber);
                WriteTextCell(xml, "A", rowNumber,
                    $"Truncated: Excel holds at most {maxRows.ToString("N0", CultureInfo.InvariantCulture)} rows; download CSV for the whole result.");
                xml.WriteEndElement();
                break;
            }

            StartRow(xml, rowNumber);
            for (var i = 0; i < columns.Length; i++) WriteCell(xml, columns[i], rowNumber, values[i]);
            xml.WriteEndElement();
            rows++;
            if (unsent.Count >= SendEveryBytes) await unsent.SendAsync(output, cancellationToken);
        }

        xml.WriteEndElement();
        xml.WriteEndElement();
        xml.WriteEndDocument();
        return rows;
    }

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

    private static void WriteCell(XmlWriter xml, string column, string row, object value)
    {
        switch (value)
        {
            case DBNull: break;
            case bool v:
                StartCell(xml, column, row, "b");
                xml.WriteElementString("v", v ? "1" : "0");
                xml.WriteEndElement();
                break;
            case byte or sbyte or short or ushort or int or uint or long or ulong or decimal:
            case float v1 when float.IsFinite(v1):
            case double v2 when double.IsFinite(v2):
                StartCell(xml, column, row, type: null);
                xml.WriteElementString("v", Text(value));
                xml.WriteEndElement();
                break;
            default: WriteTextCell(xml, column, row, Text(value), style: null); break;
        }
    }

    private static void WriteTextCell(XmlWriter xml, string column, string row, string text, string? style = null)
    {
        var kept = XmlText(text, XlsxMaxCellLength);
        StartCell(xml, column, row, "inlineStr", style);
        xml.WriteStartElement("is");
        xml.WriteStartElement("t");
        if (kept.Length > 0 && (char.IsWhiteSpace(kept[0]) || char.IsWhiteSpace(kept[^1])))
        {
            xml.WriteAttributeString("xml", "space", "http://www.w3.org/XML/1998/namespace", "preserve");
        }

        xml.WriteString(kept);
        xml.WriteEndElement();
        xml.WriteEndElement();
        xml.WriteEndElement();
    }

    private static void StartRow(XmlWriter xml, string row)
    {
        xml.WriteStartElement("row");
        xml.WriteAttributeString("r", row);
    }

    // Every cell says where it is, because a null is left out and the cells after it must not move left.
    private static void StartCell(XmlWriter xml, string column, string row, string? type, string? style = null)
    {
        xml.WriteStartElement("c");
        xml.WriteStartAttribute("r");
        xml.WriteString(column);
        xml.WriteString(row);
        xml.WriteEndAttribute();
        if (style is not null) xml.WriteAttributeString("s", style);
        if (type is not null) xml.WriteAttributeString("t", type);
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

    /// <summary>A, B, ... Z, AA, AB...: the letters of the column at a zero-based index.</summary>
    private static string ColumnLetters(int index)
    {
        var letters = "";
        for (var n = index + 1; n > 0; n = (n - 1) / 26) letters = (char)('A' + (n - 1) % 26) + letters;
        return letters;
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

    private static void WritePart(ZipArchive archive, string name, string xml)
    {
        using var part = archive.CreateEntry(name, CompressionLevel.Fastest).Open();
        part.Write(Encoding.UTF8.GetBytes(xml));
    }

    /// <summary>The parts of the workbook that are the same whatever the result.</summary>
    private static class Workbook
    {
        public const string SpreadsheetNamespace = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
        public const string BoldStyle = "1";

        private const string Declaration = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>""";

        public const string ContentTypes = Declaration + """
            <Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
            <Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
            <Default Extension="xml" ContentType="application/xml"/>
            <Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>
            <Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>
            <Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>
            </Types>
            """;

        public const string PackageRelationships = Declaration + """
            <Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
            <Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>
            </Relationships>
            """;

        public const string Main = Declaration + """
            <workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">
            <sheets><sheet name="Results" sheetId="1" r:id="rId1"/></sheets>
            </workbook>
            """;

        public const string MainRelationships = Declaration + """
            <Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
            <Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>
            <Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>
            </Relationships>
            """;

        // Style 0 is the default; style 1 (BoldStyle) is the header row's bold font. Excel expects the two fills.
        public const string Styles = Declaration + """
            <styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">
            <fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font><font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>
            <fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>
            <borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>
            <cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>
            <cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/><xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>
            <cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>
            </styleSheet>
            """;
    }

    /// <summary>
    /// Holds what the zip archive writes until it is sent to the response. The archive writes synchronously and the
    /// response body takes asynchronous writes only; the archive sees no seeking and so writes each part front to back.
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
