using System.Text;
using DataWorkspace.Web.Text;

namespace DataWorkspace.Web.Tests;

/// <summary>
/// CSV the platform gives people opens in a spreadsheet as the data, never as formulas: a value starting with =, +, -,
/// @, a tab or a carriage return gets a leading ' (OWASP's CSV injection advice), numbers stay numbers.
/// </summary>
public sealed class CsvForPeopleTests
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("=HYPERLINK(\"http://evil.example\",\"Click\")", "\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"Click\"\")\"")]
    [InlineData("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0")]
    [InlineData("-2+3", "'-2+3")]
    [InlineData("@SUM(A1:A2)", "'@SUM(A1:A2)")]
    [InlineData("\t=1", "'\t=1")]
    [InlineData("\r=1", "\"'\r=1\"")]
    [InlineData("-12.5", "-12.5")]
    [InlineData("+3", "+3")]
    [InlineData("-1e5", "-1e5")]
    [InlineData("a=b", "a=b")]
    [InlineData("", "")]
    public async Task A_value_a_spreadsheet_would_run_as_a_formula_gets_a_leading_quote_and_a_number_does_not(string value, string written)
    {
        var csv = await CopyAsync($"name,value\nx,{Quoted(value)}\n");

        Assert.Equal($"name,value\nx,{written}\n", csv);
    }

    [Fact]
    public async Task Commas_quotes_line_breaks_and_any_script_come_through_as_they_were()
    {
        var csv = await CopyAsync("id,note\n1,\"Fish, \"\"chips\"\"\nand peas\"\n2,Zürich 東京 😀\n3,\n");

        Assert.Equal("id,note\n1,\"Fish, \"\"chips\"\"\nand peas\"\n2,Zürich 東京 😀\n3,\n", csv);
    }

    [Fact]
    public async Task A_large_export_goes_out_in_pieces_as_it_is_read()
    {
        var source = new StringBuilder("id,label\n");
        for (var i = 0; i < 50_000; i++) source.Append(i).Append(",=label ").Append(i).Append('\n');
        var body = new PiecesBody();

        var records = await CsvText.CopyForPeopleAsync(new StringReader(source.ToString()), body, Cancel);

        Assert.Equal(50_001, records);
        Assert.InRange(body.Writes, 10, int.MaxValue);
        Assert.InRange(body.LargestWrite, 1, 128 * 1024);
        var lines = Encoding.UTF8.GetString(body.Bytes.ToArray()).Split('\n');
        Assert.Equal("49999,'=label 49999", lines[^2]);
    }

    [Fact]
    public async Task Rows_written_one_by_one_are_guarded_the_same_way()
    {
        var body = new MemoryStream();
        await using (var csv = new CsvForPeople(body))
        {
            await csv.RowAsync(["action", "summary"], Cancel);
            await csv.RowAsync(["login", "=1+1"], Cancel);
            await csv.RowAsync([null, "-5"], Cancel);
            await csv.FinishAsync(Cancel);
        }

        Assert.Equal("action,summary\nlogin,'=1+1\n,-5\n", Encoding.UTF8.GetString(body.ToArray()));
    }

    private static string Quoted(string value) =>
        value.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? "\"" + value.Replace("\"", "\"\"") + "\"" : value;

    private static async Task<string> CopyAsync(string source)
    {
        var body = new MemoryStream();
        await CsvText.CopyForPeopleAsync(new StringReader(source), body, Cancel);
        return Encoding.UTF8.GetString(body.ToArray());
    }

    /// <summary>A response body that takes asynchronous writes only and counts them.</summary>
    private sealed class PiecesBody : Stream
    {
        public MemoryStream Bytes { get; } = new();
        public int Writes { get; private set; }
        public int LargestWrite { get; private set; }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Writes++;
            LargestWrite = Math.Max(LargestWrite, buffer.Length);
            Bytes.Write(buffer.Span);
            return ValueTask.CompletedTask;
        }

        public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() => throw new InvalidOperationException("Synchronous operations are disallowed.");
        public override void Write(byte[] buffer, int offset, int count) => throw new InvalidOperationException("Synchronous operations are disallowed.");
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
