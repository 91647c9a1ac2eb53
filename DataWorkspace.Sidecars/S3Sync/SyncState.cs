using System.Collections.Concurrent;
using System.Text.Json;

namespace DataWorkspace.Sidecars.S3Sync;

/// <summary>What a path was when local and S3 last agreed on it: the object's ETag and the local file's mtime and size.</summary>
public sealed record SyncedEntry(string ETag, long MtimeTicks, long Size);

/// <summary>
/// The sidecar's memory of what it last synced, kept in a small JSON file so that after a restart it can tell a file
/// deleted locally from one never downloaded, and a local change made while it was stopped from a stale copy.
/// </summary>
public sealed class SyncState
{
    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    private readonly string file;
    private readonly string bucket;
    private readonly string prefix;
    private readonly object saving = new();
    private int changed;

    public ConcurrentDictionary<string, SyncedEntry> Entries { get; } = new(StringComparer.Ordinal);

    /// <summary>When the bucket was created, as last seen: a different time means it was emptied and made again.</summary>
    public DateTime? BucketCreated
    {
        get;
        set
        {
            if (field != value)
                Interlocked.Exchange(ref changed, 1);
            field = value;
        }
    }

    private SyncState(string file, string bucket, string prefix) => (this.file, this.bucket, this.prefix) = (file, bucket, prefix);

    /// <summary>The state in <paramref name="file"/> if it is for this bucket and prefix; empty (everything unknown) otherwise.</summary>
    public static SyncState Load(string file, string bucket, string prefix, out string? problem)
    {
        var state = new SyncState(file, bucket, prefix);
        problem = null;
        if (!File.Exists(file))
            return state;
        try
        {
            var stored = JsonSerializer.Deserialize<StoredState>(File.ReadAllText(file), Json);
            if (stored is null || stored.Bucket != bucket || stored.Prefix != prefix)
            {
                problem = $"{file} is for another bucket or prefix; starting with nothing known";
                return state;
            }
            foreach (var (key, entry) in stored.Entries)
                state.Entries[key] = entry;
            state.BucketCreated = stored.BucketCreated;
            state.changed = 0;
        }
        catch (Exception exception) when (exception is JsonException or IOException or UnauthorizedAccessException)
        {
            problem = $"{file} cannot be read ({exception.Message}); starting with nothing known";
        }
        return state;
    }

    public void Set(string key, SyncedEntry entry)
    {
        Entries[key] = entry;
        Interlocked.Exchange(ref changed, 1);
    }

    public void Remove(string key)
    {
        if (Entries.TryRemove(key, out _))
            Interlocked.Exchange(ref changed, 1);
    }

    /// <summary>Writes the state if it changed, through a temporary file so a crash never leaves half of it.</summary>
    public void Save()
    {
        lock (saving)
            SaveChanges();
    }

    private void SaveChanges()
    {
        if (Interlocked.Exchange(ref changed, 0) == 0)
            return;
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(file)!);
            var temporary = file + ".tmp";
            // Streamed to the file as it is: a large home's state would otherwise be sorted and built as one string each time.
            using (var output = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
                JsonSerializer.Serialize(output, new StoredState(bucket, prefix, Entries, BucketCreated), Json);
            File.Move(temporary, file, overwrite: true);
        }
        catch
        {
            Interlocked.Exchange(ref changed, 1);
            throw;
        }
    }

    private sealed record StoredState(string Bucket, string Prefix, IDictionary<string, SyncedEntry> Entries, DateTime? BucketCreated = null);
}
