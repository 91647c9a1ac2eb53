using System.Diagnostics;
using System.Globalization;
using System.Text;
using CsvHelper;
using DataWorkspace.Bench;
using DataWorkspace.Web.Text;

// CSV for people: the platform's copy (CsvHelper, with its formula guard that leaves numbers alone) against CsvHelper's
// own injection escaping, over a COPY-like export of 1,000,000 rows x 10 columns held in memory; the plain byte copy
// that the platform made before is the floor. The same profile alone and in the suite (about 10 s).
var rows = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 1_000_000;
var export = MakeExport(rows);
var bytes = Encoding.UTF8.GetBytes(export);
Console.WriteLine($"Export: {rows:N0} rows x 10 columns, {bytes.Length / 1e6:N0} MB");

const string Platform = "platform (CsvText.CopyForPeopleAsync)";
var csvHelper = $"CsvHelper {typeof(CsvReader).Assembly.GetName().Version?.ToString(3)} (CsvInjection.Escape)";
const int Rounds = 3;
var measured = new List<(int Round, string Name, double Seconds, double AllocatedMegabytes)>();
for (var round = 1; round <= Rounds; round++)
{
    await MeasureAsync(round, "plain byte copy (before)", async output => await new MemoryStream(bytes).CopyToAsync(output));
    await MeasureAsync(round, Platform, output => CsvText.CopyForPeopleAsync(new StreamReader(new MemoryStream(bytes), Encoding.UTF8), output, CancellationToken.None));
    await MeasureAsync(round, csvHelper, output => CsvHelperCopyAsync(new MemoryStream(bytes), output));
}

// The first round pays for the JIT; the figures are the medians of the rounds after it.
double Median(string name, Func<(int Round, string Name, double Seconds, double AllocatedMegabytes), double> value)
{
    var sorted = measured.Where(m => m.Name == name && m.Round > 1).Select(value).Order().ToList();
    return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
}
var megabytes = bytes.Length / 1e6;
var (platformSeconds, csvHelperSeconds) = (Median(Platform, m => m.Seconds), Median(csvHelper, m => m.Seconds));
Console.WriteLine();
BenchResults.Info("Csv", $"CSV for people, {rows:N0} rows x 10 columns", megabytes / platformSeconds, "MB/s", csvHelper, megabytes / csvHelperSeconds,
    $"no target (issue 20 chose the library by measurement); {platformSeconds * 1000:N0} ms against {csvHelperSeconds * 1000:N0} ms for {megabytes:N0} MB, median of rounds 2-{Rounds}");
BenchResults.Info("Csv", "version of CsvHelper", 0, "", note: typeof(CsvReader).Assembly.GetName().Version?.ToString(3));
BenchResults.Bars("Csv", "CSV copy throughput", "MB/s", [("the platform", megabytes / platformSeconds), (csvHelper, megabytes / csvHelperSeconds)]);

async Task MeasureAsync(int round, string name, Func<Stream, Task> copy)
{
    var output = new CountingStream();
    var allocated = GC.GetTotalAllocatedBytes(precise: true);
    var started = Stopwatch.GetTimestamp();
    await copy(output);
    var elapsed = Stopwatch.GetElapsedTime(started);
    var allocatedMegabytes = (GC.GetTotalAllocatedBytes(precise: true) - allocated) / 1e6;
    measured.Add((round, name, elapsed.TotalSeconds, allocatedMegabytes));
    Console.WriteLine($"{name,-45} {elapsed.TotalMilliseconds,8:N0} ms  {bytes.Length / 1e6 / elapsed.TotalSeconds,6:N0} MB/s  allocated {allocatedMegabytes,7:N0} MB  wrote {output.Written / 1e6:N0} MB");
}

// CsvHelper 34 reads and writes UTF-8 bytes; its injection escaping applies to every text field, numbers included
// (the export's values are all text).
static async Task CsvHelperCopyAsync(Stream source, Stream output)
{
    await using var reader = CsvReader.Create(source, CsvReaderOptions.Default with { HasHeader = false }, false);
    await using var writer = CsvWriter.Create(output, CsvWriterOptions.Default with { HasHeader = false, NewLine = "\n", Injection = CsvInjection.Escape }, true);
    while (await reader.ReadAsync(CancellationToken.None))
    {
        for (var i = 0; i < reader.FieldCount; i++) writer.WriteField(reader.GetSpan(i));
        await writer.EndRecordAsync(CancellationToken.None);
    }

    await writer.FlushAsync(CancellationToken.None);
}

static string MakeExport(int rows)
{
    var text = new StringBuilder("id,name,amount,ratio,created,flag,code,note,count,region\n");
    var random = new Random(1);
    for (var i = 0; i < rows; i++)
    {
        text.Append(i).Append(",Name ").Append(i % 977).Append(',').Append((random.NextDouble() * 2000 - 1000).ToString("F2", CultureInfo.InvariantCulture))
            .Append(',').Append(random.NextDouble().ToString("F6", CultureInfo.InvariantCulture)).Append(",2024-03-01 09:30:").Append((i % 60).ToString("D2", CultureInfo.InvariantCulture))
            .Append(',').Append(i % 2 == 0 ? 't' : 'f').Append(",C-").Append(i % 100).Append(',')
            .Append(i % 50 == 0 ? "\"A note, with a comma\"" : i % 101 == 0 ? "=1+1" : "plain note").Append(',').Append(i % 1000).Append(",North East\n");
    }

    return text.ToString();
}

/// <summary>A response body that takes asynchronous writes only and keeps nothing.</summary>
sealed class CountingStream : Stream
{
    public long Written { get; private set; }
    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Written += buffer.Length;
        return ValueTask.CompletedTask;
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
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
