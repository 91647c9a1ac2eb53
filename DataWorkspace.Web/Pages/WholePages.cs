using System.Buffers;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace DataWorkspace.Web.Pages;

/// <summary>
/// A page is sent in one piece with its Content-Length instead of as a stream of 4-16 KB chunks. Razor writes a page
/// in pieces, and through the proxy each piece is a read, a write and a flush on both hops.
/// Pages are small and never streamed, so holding one in a pooled buffer costs nothing a user notices. Downloads, the
/// APIs and anything else that streams are left alone, and a page that outgrows <see cref="Largest"/> streams on
/// from there.
/// </summary>
public static class WholePages
{
    public const int Largest = 1024 * 1024;

    public static IApplicationBuilder UseWholePages(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        if (context.GetEndpoint()?.Metadata.GetMetadata<PageActionDescriptor>() is null || HttpMethods.IsHead(context.Request.Method))
        {
            await next(context);
            return;
        }

        var original = context.Features.GetRequiredFeature<IHttpResponseBodyFeature>();
        await using var buffer = new PageBuffer(original);
        context.Features.Set<IHttpResponseBodyFeature>(new StreamResponseBodyFeature(buffer, original));
        try
        {
            await next(context);
            if (!buffer.Spilled && buffer.Length > 0 && !context.Response.HasStarted)
            {
                context.Response.ContentLength = buffer.Length;
                await original.Writer.WriteAsync(buffer.Written, context.RequestAborted);
            }
            else if (buffer.Spilled)
            {
                await original.Writer.FlushAsync(context.RequestAborted);
            }
        }
        finally
        {
            context.Features.Set(original);
        }
    });

    /// <summary>Bytes written, in one pooled array that doubles as it fills; past <see cref="Largest"/> it streams on.</summary>
    private sealed class PageBuffer(IHttpResponseBodyFeature original) : Stream
    {
        private byte[] bytes = ArrayPool<byte>.Shared.Rent(64 * 1024);
        private int length;

        public bool Spilled { get; private set; }

        public ReadOnlyMemory<byte> Written => bytes.AsMemory(0, length);

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => length;

        public override long Position
        {
            get => length;
            set => throw new NotSupportedException();
        }

        public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
        {
            if (Spilled)
            {
                await original.Stream.WriteAsync(source, cancellationToken);
                return;
            }

            if (length + source.Length > Largest)
            {
                // Too big to hold: what is held goes first, then everything as it comes.
                Spilled = true;
                await original.Stream.WriteAsync(Written, cancellationToken);
                await original.Stream.WriteAsync(source, cancellationToken);
                return;
            }

            if (length + source.Length > bytes.Length)
            {
                var larger = ArrayPool<byte>.Shared.Rent(Math.Max(bytes.Length * 2, length + source.Length));
                bytes.AsSpan(0, length).CopyTo(larger);
                ArrayPool<byte>.Shared.Return(bytes);
                bytes = larger;
            }

            source.Span.CopyTo(bytes.AsSpan(length));
            length += source.Length;
        }

        // A page's own flushes are not passed on: the whole page goes at the end.
        public override void Flush()
        {
        }

        public override Task FlushAsync(CancellationToken cancellationToken) =>
            Spilled ? original.Stream.FlushAsync(cancellationToken) : Task.CompletedTask;

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        public override ValueTask DisposeAsync()
        {
            var held = Interlocked.Exchange(ref bytes, []);
            if (held.Length > 0) ArrayPool<byte>.Shared.Return(held);
            return ValueTask.CompletedTask;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) DisposeAsync().AsTask().GetAwaiter().GetResult();
            base.Dispose(disposing);
        }
    }
}
