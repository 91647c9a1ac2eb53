using System.Collections.Concurrent;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace DataWorkspace.Proxy.Tools;

/// <summary>
/// When each tool instance last had proxied traffic: every forwarded request, and every read or write on an upgraded
/// (websocket) connection. Recording is a dictionary write; every <see cref="ProxyOptions.ActivityReportInterval"/>
/// the times seen are sent to the web app, whose culling job stops the tools that stay idle.
/// </summary>
public sealed class ToolActivity(ToolsClient tools, IOptions<ProxyOptions> options, TimeProvider time, ILogger<ToolActivity> logger) : BackgroundService
{
    private readonly ConcurrentDictionary<Guid, long> seen = new();

    public void Touch(Guid instance) => seen[instance] = time.GetTimestamp();

    /// <summary>Counts an upgraded connection's traffic as the instance's activity, for as long as the connection is open.</summary>
    public void TrackUpgrade(HttpContext context, Guid instance)
    {
        if (context.Features.Get<IHttpUpgradeFeature>() is { IsUpgradableRequest: true } upgrade)
            context.Features.Set<IHttpUpgradeFeature>(new CountingUpgrade(upgrade, Toucher(instance)));
    }

    // Apart, so that requests that are no upgrade (nearly all) do not make the closure.
    private Action Toucher(Guid instance) => () => Touch(instance);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.ActivityReportInterval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
            await ReportAsync(stoppingToken);
    }

    /// <summary>Sends what was seen since the last report; kept for the next one if the web app cannot take it.</summary>
    internal async Task ReportAsync(CancellationToken cancellationToken)
    {
        if (seen.IsEmpty) return;
        var now = time.GetUtcNow();
        var nowTimestamp = time.GetTimestamp();
        var batch = new List<(Guid, long)>();
        foreach (var (instance, at) in seen)
            if (seen.TryRemove(new KeyValuePair<Guid, long>(instance, at))) batch.Add((instance, at));
        try
        {
            if (await tools.ActivityAsync([.. batch.Select(b => (b.Item1, now - time.GetElapsedTime(b.Item2, nowTimestamp)))], cancellationToken)) return;
            logger.LogWarning("The web app refused the activity of {Count} tools; sending it again later", batch.Count);
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            logger.LogWarning(exception, "Could not report the activity of {Count} tools; sending it again later", batch.Count);
        }

        foreach (var (instance, at) in batch) seen.AddOrUpdate(instance, at, (_, newer) => Math.Max(newer, at));
    }

    private sealed class CountingUpgrade(IHttpUpgradeFeature inner, Action touch) : IHttpUpgradeFeature
    {
        public bool IsUpgradableRequest => inner.IsUpgradableRequest;

        public async Task<Stream> UpgradeAsync() => new CountingStream(await inner.UpgradeAsync(), touch);
    }

    /// <summary>The client side of an upgraded connection; each frame read or written marks the tool active.</summary>
    private sealed class CountingStream(Stream inner, Action touch) : Stream
    {
        public override bool CanRead => inner.CanRead;
        public override bool CanSeek => false;
        public override bool CanWrite => inner.CanWrite;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        public override int Read(byte[] buffer, int offset, int count)
        {
            var read = inner.Read(buffer, offset, count);
            touch();
            return read;
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var read = await inner.ReadAsync(buffer, cancellationToken);
            touch();
            return read;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Write(byte[] buffer, int offset, int count)
        {
            touch();
            inner.Write(buffer, offset, count);
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            touch();
            return inner.WriteAsync(buffer, cancellationToken);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        protected override void Dispose(bool disposing)
        {
            if (disposing) inner.Dispose();
            base.Dispose(disposing);
        }

        public override ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
