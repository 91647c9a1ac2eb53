using System.Diagnostics.Metrics;
using DataWorkspace.Web.Telemetry;

namespace DataWorkspace.Web.DatabaseAccess;

/// <summary>
/// <c>dataworkspace.downloads.size</c>: the bytes downloads send (datasets' tables and data cuts, Data Explorer
/// results), by format and source, counted as they go into the response, so a download cut short counts what it sent.
/// </summary>
public sealed class DownloadedBytes(IMeterFactory meters)
{
    private readonly Counter<long> sent = meters.WebMeter().CreateCounter<long>("dataworkspace.downloads.size", "By",
        "Bytes sent by downloads, by format (csv, json, xlsx) and source (dataset, explorer).");

    /// <summary>Counts what the response's body sends until the returned count is disposed.</summary>
    public IDisposable Count(HttpContext http, string format, string source)
    {
        var counted = new CountedBody(http.Response.Body);
        http.Response.Body = counted;
        return new Counting(() =>
        {
            http.Response.Body = counted.Inner;
            sent.Add(counted.Bytes, new KeyValuePair<string, object?>("format", format), new KeyValuePair<string, object?>("source", source));
        });
    }

    private sealed class Counting(Action end) : IDisposable
    {
        public void Dispose() => end();
    }

    /// <summary>The response's body, passing every write through and adding up its bytes.</summary>
    private sealed class CountedBody(Stream inner) : Stream
    {
        public Stream Inner => inner;
        public long Bytes { get; private set; }
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Write(byte[] buffer, int offset, int count)
        {
            inner.Write(buffer, offset, count);
            Bytes += count;
        }

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            inner.Write(buffer);
            Bytes += buffer.Length;
        }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await inner.WriteAsync(buffer, cancellationToken);
            Bytes += buffer.Length;
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush() => inner.Flush();
        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
