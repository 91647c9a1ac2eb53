using System.Data;
using System.Data.Common;
using System.Globalization;
using System.Text;
using System.Text.Json;
using DataWorkspace.Web.Explorer;
using DocumentFormat.OpenXml.Packaging;
using DocumentFormat.OpenXml.Spreadsheet;
using DocumentFormat.OpenXml.Validation;

namespace DataWorkspace.Web.Tests;

/// <summary>A query's result downloads as JSON or as an Excel workbook, written as it is read onto a response body.</summary>
public sealed class ExplorerResultFilesTests
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Json_is_an_object_per_row_with_numbers_booleans_strings_dates_and_nulls_as_themselves()
    {
        var body = new ResponseBody();

        var rows = await ResultFiles.WriteJsonAsync(Sample(), body, Cancel);

        using var json = JsonDocument.Parse(body.Bytes);
        var first = json.RootElement[0];
        var second = json.RootElement[1];
        Assert.Equal(2, rows);
        Assert.Equal(2, json.RootElement.GetArrayLength());
        Assert.Equal(["id", "amount", "ratio", "active", "note", "created", "id_2"], first.EnumerateObject().Select(p => p.Name));
        Assert.Equal(1, first.GetProperty("id").GetInt32());
        Assert.Equal(12.5m, first.GetProperty("amount").GetDecimal());
        Assert.Equal(0.25, first.GetProperty("ratio").GetDouble());
        Assert.Equal(JsonValueKind.True, first.GetProperty("active").ValueKind);
        Assert.Equal("Fish <&> \"chips\"\u0001", first.GetProperty("note").GetString());
        Assert.Equal("2024-03-01T09:30:00", first.GetProperty("created").GetString());
        Assert.Equal(7, first.GetProperty("id_2").GetInt32());
        Assert.Equal(2, second.GetProperty("id").GetInt32());
        Assert.Equal("NaN", second.GetProperty("ratio").GetString());
        Assert.All(["amount", "active", "note", "created", "id_2"], name => Assert.Equal(JsonValueKind.Null, second.GetProperty(name).ValueKind));
    }

    [Fact]
    public async Task Xlsx_has_a_frozen_bold_header_then_numbers_booleans_dates_and_text_in_their_own_kinds_of_cell()
    {
        var body = new ResponseBody();

        var rows = await ResultFiles.WriteXlsxAsync(Sample(), body, Cancel);

        using var workbook = Workbook.Open(body.Bytes);
        var sheetRows = workbook.Rows;
        Assert.Equal(2, rows);
        Assert.Equal([1u, 2u, 3u], sheetRows.Select(r => r.RowIndex?.Value ?? 0));
        Assert.Equal(1d, workbook.FrozenRows);

        var header = sheetRows[0].Elements<Cell>().ToList();
        Assert.Equal(["id", "amount", "ratio", "active", "note", "created", "id"], header.Select(Workbook.Text));
        Assert.All(header, cell => Assert.True(workbook.IsBold(cell)));

        var first = workbook.Cells(sheetRows[1]);
        Assert.Equal(["A2", "B2", "C2", "D2", "E2", "F2", "G2"], first.Keys);
        Assert.Equal([1d, 12.5d, 0.25d, 7d], new[] { "A2", "B2", "C2", "G2" }.Select(r => Workbook.Number(first[r])));
        Assert.All(new[] { "A2", "B2", "E2" }, r => Assert.False(workbook.IsBold(first[r])));
        Assert.Equal(CellValues.Boolean, first["D2"].DataType?.Value);
        Assert.Equal("1", first["D2"].CellValue?.Text);
        Assert.Equal("Fish <&> \"chips\"", Workbook.Text(first["E2"]));
        Assert.Equal(new DateTime(2024, 3, 1, 9, 30, 0), workbook.Date(first["F2"]));

        var second = workbook.Cells(sheetRows[2]).Where(c => c.Value.CellValue is not null || c.Value.InlineString is not null).ToList();
        Assert.Equal(["A3", "C3"], second.Select(c => c.Key));
        Assert.Equal("NaN", Workbook.Text(second[1].Value));
    }

    [Fact]
    public async Task Xlsx_dates_without_a_time_show_as_dates_and_those_before_excels_calendar_as_text()
    {
        var table = new DataTable();
        table.Columns.Add("day", typeof(DateOnly));
        table.Columns.Add("at", typeof(DateTimeOffset));
        table.Rows.Add(new DateOnly(2025, 12, 31), new DateTimeOffset(2025, 12, 31, 23, 0, 0, TimeSpan.FromHours(-5)));
        table.Rows.Add(new DateOnly(1850, 6, 1), null);
        var body = new ResponseBody();

        await ResultFiles.WriteXlsxAsync(table.CreateDataReader(), body, Cancel);

        using var workbook = Workbook.Open(body.Bytes);
        var first = workbook.Cells(workbook.Rows[1]);
        var second = workbook.Cells(workbook.Rows[2]);
        Assert.Equal(new DateTime(2025, 12, 31), workbook.Date(first["A2"]));
        Assert.Equal(new DateTime(2026, 1, 1, 4, 0, 0), workbook.Date(first["B2"]));
        Assert.Equal("1850-06-01", Workbook.Text(second["A3"]));
    }

    [Theory]
    [InlineData(5, 3, 2, true)]
    [InlineData(4, 3, 2, true)]
    [InlineData(3, 3, 3, false)]
    [InlineData(2, 3, 2, false)]
    public async Task Xlsx_of_more_rows_than_the_sheet_holds_ends_in_a_row_that_says_it_was_truncated(int resultRows, int maxRows, int dataRows, bool truncated)
    {
        var body = new ResponseBody();

        var rows = await ResultFiles.WriteXlsxAsync(Numbers(resultRows), body, maxRows, Cancel);

        using var workbook = Workbook.Open(body.Bytes);
        var sheetRows = workbook.Rows;
        var last = sheetRows[^1].Elements<Cell>().First();
        Assert.Equal(dataRows, rows);
        Assert.Equal(1 + dataRows + (truncated ? 1 : 0), sheetRows.Count);
        Assert.True(sheetRows.Count <= maxRows + 1);
        if (truncated) Assert.Equal($"Truncated: Excel holds at most {maxRows} rows; download CSV for the whole result.", Workbook.Text(last));
        else Assert.Equal(dataRows, Workbook.Number(last));
    }

    [Fact]
    public void The_sheet_holds_excels_rows_less_the_header_and_cells_excels_longest_text()
    {
        Assert.Equal(1_048_576 - 1, ResultFiles.XlsxMaxRows);
        Assert.Equal(32_767, ResultFiles.XlsxMaxCellLength);
    }

    [Fact]
    public async Task Xlsx_cuts_text_longer_than_a_cell_holds_without_splitting_a_character_and_keeps_spaces_and_line_breaks()
    {
        var table = new DataTable();
        table.Columns.Add("text", typeof(string));
        table.Rows.Add(new string('a', 40_000));
        table.Rows.Add(new string('b', 32_766) + "\U0001F600");
        table.Rows.Add("  spaced\r\nlines\t");
        var body = new ResponseBody();

        await ResultFiles.WriteXlsxAsync(table.CreateDataReader(), body, Cancel);

        using var workbook = Workbook.Open(body.Bytes);
        var texts = workbook.Rows.Skip(1).Select(r => Workbook.Text(r.Elements<Cell>().Single())).ToList();
        Assert.Equal(new string('a', 32_767), texts[0]);
        Assert.Equal(new string('b', 32_766), texts[1]);
        Assert.Equal("  spaced\nlines\t", texts[2]);
    }

    [Fact]
    public async Task An_empty_result_is_an_empty_array_and_a_sheet_of_just_the_header()
    {
        var json = new ResponseBody();
        var xlsx = new ResponseBody();

        var jsonRows = await ResultFiles.WriteJsonAsync(Numbers(0), json, Cancel);
        var xlsxRows = await ResultFiles.WriteXlsxAsync(Numbers(0), xlsx, Cancel);

        Assert.Equal(0, jsonRows);
        Assert.Equal(0, xlsxRows);
        Assert.Equal("[]", Encoding.UTF8.GetString(json.Bytes));
        using var workbook = Workbook.Open(xlsx.Bytes);
        Assert.Equal(["n"], workbook.Rows.Single().Elements<Cell>().Select(Workbook.Text));
    }

    [Fact]
    public async Task A_large_result_goes_out_in_pieces_of_about_64_KB_as_it_is_read()
    {
        var table = new DataTable();
        table.Columns.Add("id", typeof(int));
        table.Columns.Add("label", typeof(string));
        for (var i = 0; i < 30_000; i++) table.Rows.Add(i, $"{Guid.NewGuid()} {Guid.NewGuid()}");
        var json = new ResponseBody();
        var xlsx = new ResponseBody();

        await ResultFiles.WriteJsonAsync(table.CreateDataReader(), json, Cancel);
        await ResultFiles.WriteXlsxAsync(table.CreateDataReader(), xlsx, Cancel);

        Assert.All([json, xlsx], body =>
        {
            Assert.InRange(body.Flushes, 10, int.MaxValue);
            Assert.InRange(body.LargestWrite, 1, 128 * 1024);
        });
        Assert.Equal(30_000, JsonDocument.Parse(json.Bytes).RootElement.GetArrayLength());
        using var workbook = Workbook.Open(xlsx.Bytes);
        Assert.Equal(30_001, workbook.Rows.Count);
    }

    [Fact]
    public void The_content_types_are_those_browsers_and_excel_expect()
    {
        Assert.Equal("application/json", ResultFiles.JsonContentType);
        Assert.Equal("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ResultFiles.XlsxContentType);
    }

    /// <summary>Two rows, the second of nulls but for its id and a ratio that is not a number; two columns named id.</summary>
    private static DbDataReader Sample()
    {
        var table = new DataTable();
        table.Columns.Add("id", typeof(int));
        table.Columns.Add("amount", typeof(decimal));
        table.Columns.Add("ratio", typeof(double));
        table.Columns.Add("active", typeof(bool));
        table.Columns.Add("note", typeof(string));
        table.Columns.Add("created", typeof(DateTime));
        table.Columns.Add("id_again", typeof(int));
        table.Rows.Add(1, 12.5m, 0.25, true, "Fish <&> \"chips\"\u0001", new DateTime(2024, 3, 1, 9, 30, 0), 7);
        table.Rows.Add(2, null, double.NaN, null, null, null, null);
        return new RenamedColumns(table.CreateDataReader(), "id", "amount", "ratio", "active", "note", "created", "id");
    }

    private static DbDataReader Numbers(int count)
    {
        var table = new DataTable();
        table.Columns.Add("n", typeof(int));
        for (var i = 1; i <= count; i++) table.Rows.Add(i);
        return table.CreateDataReader();
    }

    /// <summary>
    /// A written workbook read back with the Open XML SDK, after its validator finds nothing wrong with it: the one sheet,
    /// "Results", and what a reader sees of its cells.
    /// </summary>
    private sealed class Workbook : IDisposable
    {
        private readonly SpreadsheetDocument document;
        private readonly Stylesheet styles;

        private Workbook(SpreadsheetDocument document)
        {
            this.document = document;
            var workbookPart = document.WorkbookPart!;
            var sheet = Assert.Single(workbookPart.Workbook!.Descendants<Sheet>());
            Assert.Equal("Results", sheet.Name?.Value);
            var worksheet = ((WorksheetPart)workbookPart.GetPartById(sheet.Id!.Value!)).Worksheet!;
            Rows = worksheet.Descendants<Row>().ToList();
            FrozenRows = worksheet.Descendants<Pane>().SingleOrDefault(p => p.State?.Value == PaneStateValues.Frozen)?.VerticalSplit?.Value;
            styles = workbookPart.WorkbookStylesPart!.Stylesheet!;
        }

        public List<Row> Rows { get; }
        public double? FrozenRows { get; }

        public static Workbook Open(byte[] bytes)
        {
            var document = SpreadsheetDocument.Open(new MemoryStream(bytes), isEditable: false);
            Assert.Empty(new OpenXmlValidator().Validate(document).Select(error => $"{error.Path?.XPath}: {error.Description}"));
            return new Workbook(document);
        }

        public Dictionary<string, Cell> Cells(Row row) => row.Elements<Cell>().ToDictionary(c => c.CellReference!.Value!);

        public static string Text(Cell cell)
        {
            Assert.Equal(CellValues.InlineString, cell.DataType?.Value);
            return cell.InlineString!.Text!.Text;
        }

        public static double Number(Cell cell)
        {
            Assert.True(cell.DataType is null || cell.DataType.Value == CellValues.Number, $"{cell.CellReference} is not a number");
            return double.Parse(cell.CellValue!.Text, CultureInfo.InvariantCulture);
        }

        /// <summary>A cell's date as Excel shows it: a number of days with a format that has a year, month and day.</summary>
        public DateTime Date(Cell cell)
        {
            var format = Format(cell);
            Assert.Contains("yy", format, StringComparison.OrdinalIgnoreCase);
            Assert.Contains("d", format, StringComparison.OrdinalIgnoreCase);
            return DateTime.FromOADate(Number(cell));
        }

        public bool IsBold(Cell cell)
        {
            var format = styles.CellFormats!.Elements<CellFormat>().ElementAt((int)(cell.StyleIndex?.Value ?? 0));
            var font = styles.Fonts!.Elements<Font>().ElementAt((int)(format.FontId?.Value ?? 0));
            return font.Bold is not null && (font.Bold.Val is null || font.Bold.Val.Value);
        }

        private string Format(Cell cell)
        {
            var format = styles.CellFormats!.Elements<CellFormat>().ElementAt((int)(cell.StyleIndex?.Value ?? 0));
            var id = format.NumberFormatId?.Value ?? 0;
            // 14 and 22 are Excel's built-in date and date-time formats.
            return styles.NumberingFormats?.Elements<NumberingFormat>().FirstOrDefault(f => f.NumberFormatId?.Value == id)?.FormatCode?.Value
                ?? id switch { 14 => "m/d/yy", 22 => "m/d/yy h:mm", _ => "General" };
        }

        public void Dispose() => document.Dispose();
    }

    /// <summary>Like an HTTP response body: written front to back, asynchronously only (as Kestrel insists), never read or sought.</summary>
    private sealed class ResponseBody : Stream
    {
        private readonly MemoryStream written = new();

        public byte[] Bytes => written.ToArray();
        public int Flushes { get; private set; }
        public int LargestWrite { get; private set; }

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            LargestWrite = Math.Max(LargestWrite, buffer.Length);
            written.Write(buffer.Span);
            return ValueTask.CompletedTask;
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override Task FlushAsync(CancellationToken cancellationToken)
        {
            Flushes++;
            return Task.CompletedTask;
        }

        public override void Write(byte[] buffer, int offset, int count) => throw new InvalidOperationException("Synchronous operations are disallowed.");
        public override void Flush() => throw new InvalidOperationException("Synchronous operations are disallowed.");
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }

    /// <summary>Gives a reader's columns other names, as a query can; a DataTable refuses two columns of one name.</summary>
    private sealed class RenamedColumns(DbDataReader inner, params string[] names) : DbDataReader
    {
        public override string GetName(int ordinal) => names[ordinal];
        public override int GetOrdinal(string name) => Array.IndexOf(names, name);
        public override object this[int ordinal] => inner[ordinal];
        public override object this[string name] => inner[GetOrdinal(name)];
        public override int Depth => inner.Depth;
        public override int FieldCount => inner.FieldCount;
        public override bool HasRows => inner.HasRows;
        public override bool IsClosed => inner.IsClosed;
        public override int RecordsAffected => inner.RecordsAffected;
        public override bool GetBoolean(int ordinal) => inner.GetBoolean(ordinal);
        public override byte GetByte(int ordinal) => inner.GetByte(ordinal);
        public override long GetBytes(int ordinal, long dataOffset, byte[]? buffer, int bufferOffset, int length) => inner.GetBytes(ordinal, dataOffset, buffer, bufferOffset, length);
        public override char GetChar(int ordinal) => inner.GetChar(ordinal);
        public override long GetChars(int ordinal, long dataOffset, char[]? buffer, int bufferOffset, int length) => inner.GetChars(ordinal, dataOffset, buffer, bufferOffset, length);
        public override string GetDataTypeName(int ordinal) => inner.GetDataTypeName(ordinal);
        public override DateTime GetDateTime(int ordinal) => inner.GetDateTime(ordinal);
        public override decimal GetDecimal(int ordinal) => inner.GetDecimal(ordinal);
        public override double GetDouble(int ordinal) => inner.GetDouble(ordinal);
        public override System.Collections.IEnumerator GetEnumerator() => inner.GetEnumerator();
        public override Type GetFieldType(int ordinal) => inner.GetFieldType(ordinal);
        public override float GetFloat(int ordinal) => inner.GetFloat(ordinal);
        public override Guid GetGuid(int ordinal) => inner.GetGuid(ordinal);
        public override short GetInt16(int ordinal) => inner.GetInt16(ordinal);
        public override int GetInt32(int ordinal) => inner.GetInt32(ordinal);
        public override long GetInt64(int ordinal) => inner.GetInt64(ordinal);
        public override string GetString(int ordinal) => inner.GetString(ordinal);
        public override object GetValue(int ordinal) => inner.GetValue(ordinal);
        public override int GetValues(object[] values) => inner.GetValues(values);
        public override bool IsDBNull(int ordinal) => inner.IsDBNull(ordinal);
        public override bool NextResult() => inner.NextResult();
        public override bool Read() => inner.Read();
    }
}
