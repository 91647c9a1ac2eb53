using System.Buffers.Binary;

namespace DataWorkspace.Web.Explorer;

/// <summary>
/// Moves rows from one PostgreSQL binary COPY stream to another without decoding them: it only finds where each row
/// ends, so the rows can be committed in parts (the first page at once, the rest after) from one execution of the query.
/// Format: an 11-byte signature, flags and a header extension; then per row an int16 field count and per field an
/// int32 length (-1 for NULL) and that many bytes; an int16 of -1 ends the data. All integers are big-endian.
/// </summary>
public sealed class BinaryCopyPipe(Stream source)
{
    private readonly byte[] input = new byte[64 * 1024];
    private readonly byte[] output = new byte[64 * 1024];
    private int position, length, written;
    private bool headerRead;

    /// <summary>Rows copied so far.</summary>
    public long Rows { get; private set; }

    /// <summary>True once the source's end-of-data marker was read.</summary>
    public bool Finished { get; private set; }

    /// <summary>
    /// Writes a complete COPY stream (header, up to <paramref name="maxRows"/> rows, end marker) to
    /// <paramref name="destination"/>; returns the rows it held.
    /// </summary>
    public async Task<long> CopyAsync(Stream destination, long maxRows, CancellationToken cancellationToken)
    {
        if (!headerRead) await ReadHeaderAsync(cancellationToken);
        Append(BinaryCopyHeader);
        long copied = 0;
        while (!Finished && copied < maxRows)
        {
            await EnsureAsync(2, cancellationToken);
            var fields = BinaryPrimitives.ReadInt16BigEndian(input.AsSpan(position));
            position += 2;
            if (fields == -1)
            {
                Finished = true;
                break;
            }

            await AppendAsync(destination, input.AsMemory(position - 2, 2), cancellationToken);
            for (var field = 0; field < fields; field++)
            {
                await EnsureAsync(4, cancellationToken);
                var size = BinaryPrimitives.ReadInt32BigEndian(input.AsSpan(position));
                await AppendAsync(destination, input.AsMemory(position, 4), cancellationToken);
                position += 4;
                while (size > 0)
                {
                    if (position == length) await FillAsync(cancellationToken);
                    var take = Math.Min(size, length - position);
                    await AppendAsync(destination, input.AsMemory(position, take), cancellationToken);
                    position += take;
                    size -= take;
                }
            }

            copied++;
        }

        await AppendAsync(destination, new byte[] { 0xFF, 0xFF }, cancellationToken);
        await destination.WriteAsync(output.AsMemory(0, written), cancellationToken);
        written = 0;
        Rows += copied;
        return copied;
    }

    /// <summary>The header of a binary COPY stream with no flags and no extension.</summary>
    private static readonly byte[] BinaryCopyHeader = [.. "PGCOPY\n"u8, 0xFF, (byte)'\r', (byte)'\n', 0, 0, 0, 0, 0, 0, 0, 0, 0];

    private async Task ReadHeaderAsync(CancellationToken cancellationToken)
    {
        await EnsureAsync(19, cancellationToken);
        if (!input.AsSpan(position, 11).SequenceEqual(BinaryCopyHeader.AsSpan(0, 11)))
            throw new InvalidDataException("The database did not send a binary COPY stream.");
        var extension = BinaryPrimitives.ReadInt32BigEndian(input.AsSpan(position + 15));
        position += 19;
        while (extension > 0)
        {
            if (position == length) await FillAsync(cancellationToken);
            var skip = Math.Min(extension, length - position);
            position += skip;
            extension -= skip;
        }

        headerRead = true;
    }

    private void Append(ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(output.AsSpan(written));
        written += bytes.Length;
    }

    private async ValueTask AppendAsync(Stream destination, ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        if (written + bytes.Length > output.Length)
        {
            await destination.WriteAsync(output.AsMemory(0, written), cancellationToken);
            written = 0;
        }

        if (bytes.Length > output.Length) await destination.WriteAsync(bytes, cancellationToken);
        else
        {
            bytes.Span.CopyTo(output.AsSpan(written));
            written += bytes.Length;
        }
    }

    private async ValueTask EnsureAsync(int count, CancellationToken cancellationToken)
    {
        while (length - position < count) await FillAsync(cancellationToken);
    }

    private async ValueTask FillAsync(CancellationToken cancellationToken)
    {
        if (position > 0)
        {
            input.AsSpan(position, length - position).CopyTo(input);
            length -= position;
            position = 0;
        }

        var read = await source.ReadAsync(input.AsMemory(length), cancellationToken);
        if (read == 0) throw new EndOfStreamException("The database's COPY stream ended in the middle of a row.");
        length += read;
    }
}
