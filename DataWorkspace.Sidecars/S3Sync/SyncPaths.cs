using System.Globalization;
using System.Text;

namespace DataWorkspace.Sidecars.S3Sync;

/// <summary>A local file or folder as the sync sees it: a folder has no mtime or size that matters.</summary>
public sealed record LocalItem(bool IsDirectory, long MtimeTicks, long Size, UnixFileMode Mode);

/// <summary>An object under the prefix as a listing or HEAD shows it.</summary>
public sealed record RemoteItem(string ETag, long Size, DateTime LastModified);

/// <summary>
/// The names both sides share: a path relative to the synced folder with <c>/</c> between names, and a trailing
/// <c>/</c> for a folder (kept in S3 as an empty object of that key), and the metadata that carries mtime and mode.
/// </summary>
public static class SyncPaths
{
    public const string MtimeMetadata = "x-amz-meta-mtime";
    public const string ModeMetadata = "x-amz-meta-mode";
    public const string DirectoryETag = "folder";

    /// <summary>Names of the sidecar's own files being downloaded; never synced, whatever the excludes.</summary>
    public const string TemporaryPrefix = ".~s3sync-";

    private const int MaxKeyBytes = 1024;
    private const int MaxNameBytes = 255;

    public static bool IsDirectory(string path) => path.EndsWith('/');

    /// <summary>Why S3 cannot hold this local path under the prefix, or null when it can.</summary>
    public static string? CannotUpload(string prefix, string path)
    {
        if (Encoding.UTF8.GetByteCount(prefix) + Encoding.UTF8.GetByteCount(path) > MaxKeyBytes)
            return $"its S3 key would be longer than {MaxKeyBytes} bytes";
        if (path.Contains('\uFFFD'))
            return "its name is not valid UTF-8, which S3 keys must be";
        if (path.Any(char.IsControl))
            return "its name holds control characters, which S3 listings cannot carry";
        return null;
    }

    /// <summary>Why this object's path (the key less the prefix) cannot be a local path, or null when it can.</summary>
    public static string? CannotDownload(string path)
    {
        var names = (IsDirectory(path) ? path[..^1] : path).Split('/');
        if (names.Any(name => name is "" or "." or ".."))
            return "its key has an empty, '.' or '..' name in it";
        if (names.Any(name => Encoding.UTF8.GetByteCount(name) > MaxNameBytes))
            return $"a name in its key is longer than {MaxNameBytes} bytes";
        if (path.Any(char.IsControl))
            return "its key holds control characters";
        return null;
    }

    /// <summary>Seconds since 1970 with seven decimals (the file system's 100 ns), so a restored mtime compares equal.</summary>
    public static string FormatMtime(long ticks)
    {
        var sinceEpoch = ticks - DateTime.UnixEpoch.Ticks;
        return string.Create(CultureInfo.InvariantCulture, $"{sinceEpoch / TimeSpan.TicksPerSecond}.{sinceEpoch % TimeSpan.TicksPerSecond:D7}");
    }

    public static long? ParseMtime(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
            return null;
        var parts = text.Trim().Split('.');
        if (parts.Length > 2 || !long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var seconds))
            return null;
        long fraction = 0;
        if (parts.Length == 2)
        {
            var digits = parts[1].Length > 7 ? parts[1][..7] : parts[1].PadRight(7, '0');
            if (!long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out fraction))
                return null;
        }
        if (seconds > (DateTime.MaxValue.Ticks - DateTime.UnixEpoch.Ticks) / TimeSpan.TicksPerSecond - 1)
            return null;
        return DateTime.UnixEpoch.Ticks + seconds * TimeSpan.TicksPerSecond + fraction;
    }

    public static string FormatMode(UnixFileMode mode) => Convert.ToString((int)mode & 0xFFF, 8).PadLeft(4, '0');

    public static UnixFileMode? ParseMode(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
            return null;
        try
        {
            var value = Convert.ToInt32(text.Trim(), 8);
            return value is >= 0 and <= 0xFFF ? (UnixFileMode)value : null;
        }
        catch (Exception exception) when (exception is FormatException or OverflowException or ArgumentException)
        {
            return null;
        }
    }

    /// <summary><c>folder/name (conflict 2026-12-04T20-15-03Z).ext</c>: the version that lost the name, beside the one that kept it.</summary>
    public static string ConflictPath(string path, DateTime utc, Func<string, bool> taken)
    {
        var slash = path.LastIndexOf('/');
        var folder = path[..(slash + 1)];
        var name = path[(slash + 1)..];
        var dot = name.LastIndexOf('.');
        var (stem, extension) = dot <= 0 ? (name, "") : (name[..dot], name[dot..]);
        var stamp = utc.ToString("yyyy-MM-ddTHH-mm-ss", CultureInfo.InvariantCulture) + "Z";
        var candidate = $"{folder}{stem} (conflict {stamp}){extension}";
        for (var n = 2; taken(candidate); n++)
            candidate = $"{folder}{stem} (conflict {stamp} {n}){extension}";
        return candidate;
    }

    public static string NormalETag(string? etag) => (etag ?? "").Trim('"');
}
