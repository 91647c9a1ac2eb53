using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace DataWorkspace.Sidecars.S3Sync;

/// <summary>
/// Keeps the local folder and the S3 prefix in step. Every poll interval a full round lists the prefix and walks the
/// folder; between them, local changes the file watcher reports are synced alone once they have been quiet for the
/// debounce. Each path is decided from three views: the local file, the object, and what both were when last synced
/// (<see cref="SyncState"/>): a side that differs from that changed; one side changed is copied over the other, a
/// deletion is passed on only when the other side is unchanged, and both changed keeps both versions.
/// </summary>
public sealed class HomeFolderSync(S3SyncSettings settings, IAmazonS3 s3, S3SyncMetrics metrics, TimeProvider time, ILogger<HomeFolderSync> logger)
    : IHostedService, IDisposable
{
    // Smaller files are uploaded again when renamed: not worth looking for the old name.
    private const long RenameCopyMinimum = 1024 * 1024;
    private const long MaxCopySize = 5L * 1024 * 1024 * 1024;
    private static readonly TimeSpan StateSaveInterval = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan MaxUploadDelay = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan ReadyTogether = TimeSpan.FromMilliseconds(30);

    private readonly object gate = new();
    private readonly Dictionary<string, (DateTimeOffset First, DateTimeOffset Last)> dirty = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim wake = new(0);
    private readonly CancellationTokenSource stopping = new();
    private readonly CancellationTokenSource abort = new();
    private readonly ConcurrentDictionary<string, byte> reportedSkips = new(StringComparer.Ordinal);
    private SyncState state = null!;
    private FileSystemWatcher? watcher;
    private Task? worker;
    private bool rescan;
    private bool afterOutage;
    private bool bucketCreationUnreadable;
    private volatile bool finishingUp;
    private RenameSources? renames;
    private long lastProgressTicks;
    private long lastSuccessTicks;
    private long lastSavedTicks;

    public DateTimeOffset StartedAt { get; private set; }

    /// <summary>When a sync round last succeeded; null before the first.</summary>
    public DateTimeOffset? LastSuccess => Interlocked.Read(ref lastSuccessTicks) is var ticks and > 0 ? new DateTimeOffset(ticks, TimeSpan.Zero) : null;

    /// <summary>When a round last succeeded or a transfer in a long round last completed: what shows sync is not stuck.</summary>
    public DateTimeOffset LastProgress => new(Math.Max(Interlocked.Read(ref lastProgressTicks), StartedAt.UtcTicks), TimeSpan.Zero);

    public string? LastProblem { get; private set; }

    private string Prefix => settings.Prefix;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        StartedAt = time.GetUtcNow();
        state = SyncState.Load(settings.StateFile, settings.Bucket, settings.Prefix, out var problem);
        if (problem is not null)
            S3SyncLog.StateProblem(logger, problem);
        watcher = new FileSystemWatcher(settings.LocalDirectory)
        {
            IncludeSubdirectories = true,
            NotifyFilter = NotifyFilters.FileName | NotifyFilters.DirectoryName | NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.Attributes,
            InternalBufferSize = 64 * 1024,
        };
        watcher.Created += (_, e) => Touched(e.FullPath);
        watcher.Changed += (_, e) => Touched(e.FullPath);
        watcher.Deleted += (_, e) => Touched(e.FullPath);
        watcher.Renamed += (_, e) =>
        {
            // Both names at one time, so that they are ready together and the local round sees the rename whole.
            var now = time.GetUtcNow();
            Touched(e.OldFullPath, now);
            Touched(e.FullPath, now);
        };
        watcher.Error += (_, _) =>
        {
            S3SyncLog.WatcherOverflow(logger);
            lock (gate)
                rescan = true;
            wake.Release();
        };
        try
        {
            watcher.EnableRaisingEvents = true;
        }
        catch (IOException exception)
        {
            // Out of inotify watches, say: local changes are still found, by the full round every poll interval.
            S3SyncLog.NoWatcher(logger, exception.Message);
            watcher.Dispose();
            watcher = null;
        }
        S3SyncLog.Started(logger, settings.LocalDirectory, settings.Bucket, Prefix, settings.PollInterval.TotalSeconds, settings.Excludes.ToString());
        worker = Task.Run(RunAsync, CancellationToken.None);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (worker is null)
            return;
        S3SyncLog.Stopping(logger);
        await stopping.CancelAsync();
        using (cancellationToken.Register(abort.Cancel))
            await worker.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (watcher is not null)
            watcher.EnableRaisingEvents = false;
        SaveState();
        S3SyncLog.Stopped(logger);
    }

    public void Dispose()
    {
        watcher?.Dispose();
        stopping.Dispose();
        abort.Dispose();
        wake.Dispose();
    }

    private void Touched(string fullPath, DateTimeOffset? at = null)
    {
        var relative = Path.GetRelativePath(settings.LocalDirectory, fullPath).Replace(Path.DirectorySeparatorChar, '/');
        if (relative is "." || relative.StartsWith("../", StringComparison.Ordinal) || relative == ".." || IsIgnored(relative))
            return;
        MarkDirty(relative, at);
    }

    private void MarkDirty(string path, DateTimeOffset? at = null)
    {
        var now = at ?? time.GetUtcNow();
        path = path.TrimEnd('/');
        lock (gate)
            dirty[path] = (dirty.TryGetValue(path, out var touched) ? touched.First : now, now);
        wake.Release();
    }

    /// <summary>Excluded by pattern, or the sidecar's own: its state and its downloads in progress.</summary>
    private bool IsIgnored(string path)
    {
        var trimmed = path.TrimEnd('/');
        if (trimmed == S3SyncSettings.StateFolderName || trimmed.StartsWith(S3SyncSettings.StateFolderName + "/", StringComparison.Ordinal))
            return true;
        if (Path.GetFileName(trimmed).StartsWith(SyncPaths.TemporaryPrefix, StringComparison.Ordinal))
            return true;
        var stateRelative = Path.GetRelativePath(settings.LocalDirectory, settings.StateFile).Replace(Path.DirectorySeparatorChar, '/');
        if (trimmed == stateRelative || trimmed == stateRelative + ".tmp")
            return true;
        return settings.Excludes.IsExcluded(trimmed);
    }

    private async Task RunAsync()
    {
        var failures = 0;
        var nextFull = time.GetUtcNow();
        while (!stopping.IsCancellationRequested)
        {
            var now = time.GetUtcNow();
            bool full;
            List<string> ready;
            DateTimeOffset nextReady;
            lock (gate)
            {
                full = rescan || now >= nextFull;
                ready = TakeReady(now, all: false, out nextReady);
                if (full)
                    rescan = false;
            }
            if (!full && ready.Count == 0)
            {
                var until = nextReady < nextFull ? nextReady : nextFull;
                await WaitAsync(until - now);
                continue;
            }
            try
            {
                if (full)
                    await FullRoundAsync(abort.Token);
                else
                    await LocalRoundAsync(ready, abort.Token);
                if (full)
                    nextFull = time.GetUtcNow() + settings.PollInterval;
                if (failures > 0)
                    S3SyncLog.Recovered(logger, failures);
                failures = 0;
                Succeeded();
            }
            catch (Exception exception) when (!abort.IsCancellationRequested)
            {
                foreach (var path in ready)
                    MarkDirty(path);
                failures++;
                afterOutage |= MayHaveLostObjects(exception);
                var retry = TimeSpan.FromSeconds(Math.Min(Math.Pow(2, failures - 1) * 0.5, Math.Max(30, settings.PollInterval.TotalSeconds)));
                var reason = Describe(exception);
                LastProblem = $"{reason} (at {time.GetUtcNow():u})";
                metrics.Failed(exception is AmazonServiceException service ? service.ErrorCode ?? service.StatusCode.ToString() : exception.GetType().Name);
                S3SyncLog.RoundFailed(logger, reason, retry.TotalSeconds, exception);
                // A failed round (including a local one) is retried as a full round: S3 may have changed meanwhile.
                nextFull = time.GetUtcNow() + retry;
                await WaitAsync(retry, wakeOnChange: false);
            }
            SaveState();
        }

        // Stopping: whatever changed locally and is not yet sent goes up now, found by walking the folder so that a
        // change whose watcher event is still on its way is not missed; the host's shutdown timeout bounds it.
        lock (gate)
            TakeReady(time.GetUtcNow(), all: true, out _);
        finishingUp = true;
        if (!abort.IsCancellationRequested)
        {
            try
            {
                await LocalRoundAsync([""], abort.Token, finishing: true);
            }
            catch (Exception exception) when (!abort.IsCancellationRequested)
            {
                S3SyncLog.RoundFailed(logger, Describe(exception), 0, exception);
            }
        }
    }

    private List<string> TakeReady(DateTimeOffset now, bool all, out DateTimeOffset nextReady)
    {
        var ready = new List<string>();
        nextReady = DateTimeOffset.MaxValue;
        foreach (var (path, touched) in dirty)
        {
            // Quiet for the debounce (closed after writing, as far as can be seen), or written to for too long to wait more.
            var due = touched.Last + settings.Debounce is var quiet && touched.First + MaxUploadDelay is var longest && longest < quiet ? longest : quiet;
            // Paths touched within a few milliseconds of each other (a folder moved, a file saved by rename) go together.
            if (all || due <= now + ReadyTogether)
                ready.Add(path);
            else if (due < nextReady)
                nextReady = due;
        }
        foreach (var path in ready)
            dirty.Remove(path);
        return ready;
    }

    private bool RecentlyTouched(string path)
    {
        if (finishingUp)
            return false;
        lock (gate)
            return dirty.ContainsKey(path.TrimEnd('/'));
    }

    private async Task WaitAsync(TimeSpan delay, bool wakeOnChange = true)
    {
        if (delay <= TimeSpan.Zero)
            return;
        if (delay > TimeSpan.FromMinutes(1))
            delay = TimeSpan.FromMinutes(1);
        try
        {
            if (wakeOnChange)
            {
                await wake.WaitAsync(delay, stopping.Token);
                while (wake.CurrentCount > 0 && wake.Wait(0))
                {
                }
            }
            else
            {
                await Task.Delay(delay, time, stopping.Token);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void Succeeded()
    {
        var now = time.GetUtcNow();
        Interlocked.Exchange(ref lastSuccessTicks, now.UtcTicks);
        Interlocked.Exchange(ref lastProgressTicks, now.UtcTicks);
        LastProblem = null;
        metrics.Succeeded(now);
    }

    private void Progressed()
    {
        var now = time.GetUtcNow().UtcTicks;
        Interlocked.Exchange(ref lastProgressTicks, now);
        // A long round (the first download of a large home) saves what it has done now and then, in case it is killed.
        var saved = Interlocked.Read(ref lastSavedTicks);
        if (now - saved > StateSaveInterval.Ticks && Interlocked.CompareExchange(ref lastSavedTicks, now, saved) == saved)
            SaveState();
    }

    private void SaveState()
    {
        try
        {
            state.Save();
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            S3SyncLog.StateNotSaved(logger, settings.StateFile, exception);
        }
    }

    private static string Describe(Exception exception) => exception switch
    {
        AmazonS3Exception { ErrorCode: "NoSuchBucket" } => "the bucket does not exist (taken as S3 being unavailable, so nothing local is deleted)",
        AmazonServiceException service => $"S3 answered {(int)service.StatusCode} {service.ErrorCode}: {service.Message}",
        OperationCanceledException => "S3 did not answer in time",
        _ => exception.InnerException is { } inner ? $"{exception.Message} ({inner.Message})" : exception.Message,
    };

    /// <summary>
    /// Whether a failed round may mean S3 lost objects (it was unreachable, answered 5xx, or the bucket was gone), as
    /// opposed to S3 answering that one request was wrong; unsure counts as lost, since that only uploads again.
    /// </summary>
    private static bool MayHaveLostObjects(Exception exception) =>
        exception is not AmazonS3Exception { StatusCode: >= HttpStatusCode.BadRequest and < HttpStatusCode.InternalServerError } refused
        || refused.ErrorCode is "NoSuchBucket";

    private async Task FullRoundAsync(CancellationToken cancellationToken)
    {
        var handledMeanwhile = new HashSet<string>(StringComparer.Ordinal);
        var remote = await ListRemoteAsync(handledMeanwhile, cancellationToken);
        var local = new Dictionary<string, LocalItem>(StringComparer.Ordinal);
        WalkLocal("", local);
        // What local rounds sent while the listing went on is newer than the listing says: left as they left it.
        bool Listed(string path) => !handledMeanwhile.Contains(path.TrimEnd('/'));
        foreach (var path in handledMeanwhile)
        {
            local.Remove(path);
            local.Remove(path + "/");
        }
        var missing = state.Entries.Keys.Count(key => !SyncPaths.IsDirectory(key) && !remote.ContainsKey(key) && Listed(key));
        // Files gone from S3 were deleted there (the files page, another tool), unless S3 itself lost them: a bucket
        // recreated (an emulator restarted) says so for certain; where its creation time cannot be read, having just
        // been unavailable is taken as the sign. Lost files are uploaded again, not deleted here.
        var recreated = (missing > 0 || state.BucketCreated is null) && !bucketCreationUnreadable ? await BucketRecreatedAsync(cancellationToken) : null;
        var remoteLost = missing > 0 && (recreated ?? afterOutage);
        if (remoteLost)
            S3SyncLog.MissingAfterOutage(logger, settings.Bucket, Prefix, missing, recreated is true ? "the bucket has been created again since" : "the first listing after S3 was unavailable");

        var paths = new HashSet<string>(local.Keys, StringComparer.Ordinal);
        paths.UnionWith(remote.Keys);
        paths.UnionWith(state.Entries.Keys);
        paths.RemoveWhere(path => !Listed(path) || handledMeanwhile.Any(handled => path.StartsWith(handled + "/", StringComparison.Ordinal)));
        await ReconcileAllAsync(paths, path => local.GetValueOrDefault(path), path => Task.FromResult(remote.GetValueOrDefault(path)), remoteLost, finishing: false, cancellationToken);
        afterOutage = false;
    }

    /// <summary>
    /// Whether the bucket was created again since the sidecar last looked (null: cannot tell, e.g. the credentials may
    /// not list buckets). The first time, its creation time is only remembered.
    /// </summary>
    private async Task<bool?> BucketRecreatedAsync(CancellationToken cancellationToken)
    {
        DateTime? created;
        try
        {
            var buckets = await s3.ListBucketsAsync(new ListBucketsRequest { Prefix = settings.Bucket }, cancellationToken);
            created = buckets.Buckets?.FirstOrDefault(bucket => bucket.BucketName == settings.Bucket)?.CreationDate?.ToUniversalTime();
        }
        catch (AmazonS3Exception exception) when (exception.StatusCode is HttpStatusCode.Forbidden or HttpStatusCode.NotImplemented)
        {
            created = null;
        }
        if (created is null)
        {
            bucketCreationUnreadable = true;
            return null;
        }
        var known = state.BucketCreated;
        state.BucketCreated = created;
        return known is null ? null : known != created;
    }

    private async Task LocalRoundAsync(List<string> changed, CancellationToken cancellationToken, bool finishing = false)
    {
        var local = new Dictionary<string, LocalItem>(StringComparer.Ordinal);
        var paths = new HashSet<string>(StringComparer.Ordinal);
        string[]? sortedKeys = null;
        foreach (var path in changed)
        {
            var full = FullPath(path);
            if (path.Length == 0)
            {
                WalkLocal("", local);
                paths.UnionWith(state.Entries.Keys);
                continue;
            }
            if (Directory.Exists(full) && !IsLink(full))
            {
                local[path + "/"] = new LocalItem(true, 0, 0, 0);
                WalkLocal(path + "/", local);
            }
            else if (Stat(path) is { } item)
            {
                local[path] = item;
            }
            paths.Add(path);
            paths.Add(path + "/");
            if (!local.ContainsKey(path))
            {
                sortedKeys ??= [.. state.Entries.Keys.Order(StringComparer.Ordinal)];
                paths.UnionWith(KeysUnder(sortedKeys, path + "/"));
            }
        }
        paths.UnionWith(local.Keys);
        paths.RemoveWhere(path => IsIgnored(path) || Unchanged(path, local.GetValueOrDefault(path)));
        if (paths.Count == 0)
            return;
        await ReconcileAllAsync(paths, path => local.GetValueOrDefault(path), path => HeadAsync(path, cancellationToken), remoteLost: false, finishing, cancellationToken);
    }

    private static IEnumerable<string> KeysUnder(string[] sortedKeys, string folder)
    {
        var index = Array.BinarySearch(sortedKeys, folder, StringComparer.Ordinal);
        for (var i = index < 0 ? ~index : index; i < sortedKeys.Length && sortedKeys[i].StartsWith(folder, StringComparison.Ordinal); i++)
            yield return sortedKeys[i];
    }

    /// <summary>Locally as when last synced, so S3 need not be asked: what S3 changed meanwhile the next full round finds.</summary>
    private bool Unchanged(string path, LocalItem? local)
    {
        state.Entries.TryGetValue(path, out var entry);
        if (local is null)
            return entry is null;
        if (SyncPaths.IsDirectory(path))
            return entry is not null;
        return entry is not null && entry.MtimeTicks == local.MtimeTicks && entry.Size == local.Size;
    }

    private async Task ReconcileAllAsync(
        IEnumerable<string> paths, Func<string, LocalItem?> local, Func<string, Task<RemoteItem?>> remote, bool remoteLost, bool finishing, CancellationToken cancellationToken)
    {
        renames = new RenameSources(state);
        // Paths new to the sync first, so that the new name of a renamed file is copied from the old one before that goes.
        var files = paths.Where(path => !SyncPaths.IsDirectory(path)).OrderBy(path => state.Entries.ContainsKey(path)).ToList();
        var firstKnown = files.FindIndex(state.Entries.ContainsKey) is var index and >= 0 ? index : files.Count;
        // Folders after files, deepest first, so a folder emptied by deletions in this round can go too.
        var folders = paths.Where(SyncPaths.IsDirectory).OrderByDescending(path => path.Count(c => c == '/')).ToList();
        var options = new ParallelOptions { MaxDegreeOfParallelism = settings.Parallelism, CancellationToken = cancellationToken };
        foreach (var phase in new[] { files[..firstKnown], files[firstKnown..] })
        {
            await Parallel.ForEachAsync(phase, options, async (path, token) =>
            {
                // Once stopping, transfers under way finish but no new ones start (except the final upload of local changes).
                if (stopping.IsCancellationRequested && !finishing)
                    return;
                await GuardAsync(path, async () => await ReconcileFileAsync(path, local(path), await remote(path), remoteLost, token));
            });
        }
        foreach (var path in folders)
        {
            if (stopping.IsCancellationRequested && !finishing)
                return;
            await GuardAsync(path, async () => await ReconcileFolderAsync(path, local(path), await remote(path), remoteLost, cancellationToken));
        }
    }

    /// <summary>Problems of one path are logged and it is skipped; problems of S3 as a whole fail the round.</summary>
    private async Task GuardAsync(string path, Func<Task> reconcile)
    {
        try
        {
            await reconcile();
        }
        catch (AmazonS3Exception exception) when (IsRefusalOfOnePath(exception))
        {
            metrics.Skipped(exception.ErrorCode ?? "refused");
            S3SyncLog.Refused(logger, "a request", path, exception.ErrorCode ?? ((int)exception.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        catch (FileNotFoundException)
        {
            // Gone between looking and copying: the watcher or the next round sees what it has become.
            MarkDirty(path);
        }
        catch (Exception exception) when (exception is UnauthorizedAccessException or PathTooLongException or DirectoryNotFoundException)
        {
            Skip(path, exception.Message);
        }
    }

    private static bool IsRefusalOfOnePath(AmazonS3Exception exception) =>
        exception.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.NotFound or HttpStatusCode.RequestEntityTooLarge or HttpStatusCode.PreconditionFailed
        && exception.ErrorCode is not "NoSuchBucket";

    private void Skip(string path, string reason)
    {
        if (reportedSkips.TryAdd(path + "\n" + reason, 0))
        {
            metrics.Skipped("name");
            S3SyncLog.Skipped(logger, path, reason);
        }
    }

    private async Task ReconcileFileAsync(string path, LocalItem? local, RemoteItem? remote, bool remoteLost, CancellationToken cancellationToken)
    {
        // A path the watcher reported a moment ago is left to the local round, which takes both names of a rename together.
        if (RecentlyTouched(path))
            return;
        state.Entries.TryGetValue(path, out var entry);
        if (local is null && remote is not null && Directory.Exists(FullPath(path)))
        {
            Skip(path, "a local folder has the name of this file in S3; rename one of them");
            return;
        }
        var localChanged = local is not null && (entry is null || entry.MtimeTicks != local.MtimeTicks || entry.Size != local.Size);
        var remoteChanged = remote is not null && (entry is null || entry.ETag != remote.ETag);
        switch (local, remote)
        {
            case (null, null):
                state.Remove(path);
                break;
            case (not null, null) when entry is null || localChanged || remoteLost:
                if (entry is not null || !await CopyRenamedInS3Async(path, local, cancellationToken))
                    await UploadAsync(path, cancellationToken);
                break;
            case (not null, null):
                if (IsQuiet(path, local) || Stat(path) is not { } now || now.MtimeTicks != local.MtimeTicks || now.Size != local.Size)
                    return;
                File.Delete(FullPath(path));
                state.Remove(path);
                metrics.Deleted("local");
                S3SyncLog.Deleted(logger, path, "here");
                break;
            case (null, not null) when entry is null || remoteChanged:
                if (entry is not null || !CopyRenamedLocally(path, remote))
                    await DownloadAsync(path, path, remote, expected: null, cancellationToken);
                break;
            case (null, not null):
                await DeleteRemoteAsync(path, cancellationToken);
                break;
            case (not null, not null) when !localChanged && !remoteChanged:
                break;
            case (not null, not null) when localChanged && !remoteChanged:
                await UploadAsync(path, cancellationToken);
                break;
            case (not null, not null) when !localChanged:
                if (!IsQuiet(path, local))
                    await DownloadAsync(path, path, remote, local, cancellationToken);
                break;
            case (not null, not null):
                if (!IsQuiet(path, local))
                    await KeepBothAsync(path, local, remote, cancellationToken);
                break;
        }
    }

    /// <summary>A file changed within the quiet period is not to be overwritten, renamed or deleted for S3's sake yet.</summary>
    private bool IsQuiet(string path, LocalItem local)
    {
        if (settings.QuietPeriod <= TimeSpan.Zero)
            return false;
        var changedAt = new DateTime(local.MtimeTicks, DateTimeKind.Utc);
        if (time.GetUtcNow().UtcDateTime - changedAt >= settings.QuietPeriod && !RecentlyTouched(path))
            return false;
        if (reportedSkips.TryAdd($"{path}\nquiet {local.MtimeTicks}", 0))
            S3SyncLog.Quiet(logger, path, settings.QuietPeriod.TotalSeconds);
        return true;
    }

    private async Task ReconcileFolderAsync(string path, LocalItem? local, RemoteItem? remote, bool remoteLost, CancellationToken cancellationToken)
    {
        state.Entries.TryGetValue(path, out var entry);
        var full = FullPath(path);
        switch (local, remote)
        {
            case (null, null):
                state.Remove(path);
                break;
            case (not null, not null):
                if (entry is null)
                    state.Set(path, new SyncedEntry(SyncPaths.DirectoryETag, 0, 0));
                break;
            case (not null, null) when entry is null || remoteLost || Directory.EnumerateFileSystemEntries(full).Any():
                await PutFolderAsync(path, cancellationToken);
                break;
            case (not null, null):
                Directory.Delete(full);
                state.Remove(path);
                metrics.Deleted("local");
                S3SyncLog.Deleted(logger, path, "here");
                break;
            case (null, not null) when entry is null:
                if (File.Exists(full))
                {
                    Skip(path, "a local file has the name of this folder in S3; rename one of them");
                    break;
                }
                Directory.CreateDirectory(full);
                state.Set(path, new SyncedEntry(SyncPaths.DirectoryETag, 0, 0));
                break;
            case (null, not null):
                await DeleteRemoteAsync(path, cancellationToken);
                break;
        }
    }

    private async Task PutFolderAsync(string path, CancellationToken cancellationToken)
    {
        if (SyncPaths.CannotUpload(Prefix, path) is { } problem)
        {
            Skip(path, problem);
            return;
        }
        await s3.PutObjectAsync(new PutObjectRequest { BucketName = settings.Bucket, Key = Prefix + path, ContentBody = "" }, cancellationToken);
        state.Set(path, new SyncedEntry(SyncPaths.DirectoryETag, 0, 0));
        Progressed();
    }

    /// <summary>
    /// Everything under the prefix. A long listing (a home of many thousand files) is paused between pages to send the
    /// local changes that have become due, so a save does not wait minutes for it; <paramref name="handled"/> gets their paths.
    /// </summary>
    private async Task<Dictionary<string, RemoteItem>> ListRemoteAsync(HashSet<string> handled, CancellationToken cancellationToken)
    {
        var found = new Dictionary<string, RemoteItem>(StringComparer.Ordinal);
        var request = new ListObjectsV2Request { BucketName = settings.Bucket, Prefix = Prefix };
        do
        {
            var page = await s3.ListObjectsV2Async(request, cancellationToken);
            foreach (var item in page.S3Objects ?? [])
            {
                if (item.Key is null || item.Key.Length <= Prefix.Length)
                    continue;
                var path = item.Key[Prefix.Length..];
                if (IsIgnored(path))
                    continue;
                if (SyncPaths.CannotDownload(path) is { } problem)
                {
                    Skip(path, problem);
                    continue;
                }
                found[path] = new RemoteItem(SyncPaths.NormalETag(item.ETag), item.Size ?? 0, item.LastModified ?? DateTime.UnixEpoch);
            }
            request.ContinuationToken = page.NextContinuationToken;
            Progressed();
            if (page.IsTruncated != true)
                break;
            List<string> due;
            lock (gate)
                due = TakeReady(time.GetUtcNow(), all: false, out _);
            if (due.Count == 0)
                continue;
            try
            {
                await LocalRoundAsync(due, cancellationToken);
            }
            catch
            {
                foreach (var path in due)
                    MarkDirty(path);
                throw;
            }
            handled.UnionWith(due);
        }
        while (true);
        return found;
    }

    /// <summary>A new local file as large as and as old as one that has just gone locally is that file renamed: copied in S3, not uploaded.</summary>
    private async Task<bool> CopyRenamedInS3Async(string path, LocalItem local, CancellationToken cancellationToken)
    {
        if (local.Size < RenameCopyMinimum || local.Size > MaxCopySize || renames is null)
            return false;
        foreach (var source in renames.WithFile(local.Size, local.MtimeTicks))
        {
            if (source == path || Stat(source) is not null || !state.Entries.TryGetValue(source, out var entry))
                continue;
            try
            {
                var copy = await s3.CopyObjectAsync(new CopyObjectRequest
                {
                    SourceBucket = settings.Bucket,
                    SourceKey = Prefix + source,
                    DestinationBucket = settings.Bucket,
                    DestinationKey = Prefix + path,
                    ETagToMatch = entry.ETag,
                    MetadataDirective = S3MetadataDirective.COPY,
                }, cancellationToken);
                state.Set(path, new SyncedEntry(SyncPaths.NormalETag(copy.ETag), local.MtimeTicks, local.Size));
                metrics.Transferred("copy", local.Size);
                Progressed();
                S3SyncLog.Renamed(logger, source, path, "in S3");
                return true;
            }
            catch (AmazonS3Exception exception) when (exception.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.PreconditionFailed)
            {
                return false;
            }
        }
        return false;
    }

    /// <summary>A new object with the ETag of one that has just gone from S3 is that object renamed: copied from the local file, not downloaded.</summary>
    private bool CopyRenamedLocally(string path, RemoteItem remote)
    {
        if (renames is null)
            return false;
        foreach (var source in renames.WithETag(remote.ETag))
        {
            if (source == path || !state.Entries.TryGetValue(source, out var entry) || entry.Size != remote.Size || Stat(source) is not { } original
                || original.MtimeTicks != entry.MtimeTicks || original.Size != entry.Size)
                continue;
            var full = FullPath(path);
            var folder = Path.GetDirectoryName(full)!;
            var temporary = Path.Combine(folder, SyncPaths.TemporaryPrefix + Guid.NewGuid().ToString("N"));
            try
            {
                Directory.CreateDirectory(folder);
                File.Copy(FullPath(source), temporary);
                File.SetLastWriteTimeUtc(temporary, new DateTime(original.MtimeTicks, DateTimeKind.Utc));
                if (Stat(source) is not { } still || still.MtimeTicks != original.MtimeTicks || still.Size != original.Size)
                    continue;
                File.Move(temporary, full, overwrite: false);
            }
            catch (IOException)
            {
                continue;
            }
            finally
            {
                if (File.Exists(temporary))
                    File.Delete(temporary);
            }
            state.Set(path, new SyncedEntry(remote.ETag, original.MtimeTicks, original.Size));
            metrics.Transferred("copy", original.Size);
            S3SyncLog.Renamed(logger, source, path, "here");
            return true;
        }
        return false;
    }

    private async Task<RemoteItem?> HeadAsync(string path, CancellationToken cancellationToken)
    {
        try
        {
            var head = await s3.GetObjectMetadataAsync(new GetObjectMetadataRequest { BucketName = settings.Bucket, Key = Prefix + path }, cancellationToken);
            return new RemoteItem(SyncPaths.NormalETag(head.ETag), head.ContentLength, head.LastModified ?? DateTime.UnixEpoch);
        }
        catch (AmazonS3Exception exception) when (exception.StatusCode == HttpStatusCode.NotFound && exception.ErrorCode is not "NoSuchBucket")
        {
            // A HEAD has no body, so a missing bucket also comes back as a bare 404: ask the bucket to tell them apart.
            await s3.GetBucketLocationAsync(new GetBucketLocationRequest { BucketName = settings.Bucket }, cancellationToken);
            return null;
        }
    }

    private void WalkLocal(string folder, Dictionary<string, LocalItem> into)
    {
        var options = new EnumerationOptions { IgnoreInaccessible = true, RecurseSubdirectories = false, AttributesToSkip = 0, ReturnSpecialDirectories = false };
        IEnumerable<FileSystemInfo> entries;
        try
        {
            entries = new DirectoryInfo(FullPath(folder)).EnumerateFileSystemInfos("*", options).ToList();
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            Skip(folder, exception.Message);
            return;
        }
        foreach (var entry in entries)
        {
            var path = folder + entry.Name;
            if (IsIgnored(path))
                continue;
            if (entry.LinkTarget is not null)
            {
                Skip(path, "it is a symbolic link, which S3 cannot hold");
                continue;
            }
            if (entry is DirectoryInfo)
            {
                if (SyncPaths.CannotUpload(Prefix, path + "/") is { } folderProblem)
                {
                    Skip(path + "/", folderProblem);
                    continue;
                }
                into[path + "/"] = new LocalItem(true, 0, 0, 0);
                WalkLocal(path + "/", into);
            }
            else if (entry is FileInfo file && (file.Attributes & (FileAttributes.Device | FileAttributes.ReparsePoint)) == 0)
            {
                if (SyncPaths.CannotUpload(Prefix, path) is { } problem)
                {
                    Skip(path, problem);
                    continue;
                }
                into[path] = new LocalItem(false, file.LastWriteTimeUtc.Ticks, file.Length, file.UnixFileMode);
            }
        }
    }

    private string FullPath(string path) => Path.Combine(settings.LocalDirectory, path.TrimEnd('/'));

    private bool AncestorIsFile(string path)
    {
        for (var slash = path.IndexOf('/'); slash > 0; slash = path.IndexOf('/', slash + 1))
            if (File.Exists(FullPath(path[..slash])))
                return true;
        return false;
    }

    private static bool IsLink(string full) => new FileInfo(full).LinkTarget is not null;

    private LocalItem? Stat(string path)
    {
        var file = new FileInfo(FullPath(path));
        if (!file.Exists || file.LinkTarget is not null)
            return null;
        return new LocalItem(false, file.LastWriteTimeUtc.Ticks, file.Length, file.UnixFileMode);
    }

    private async Task UploadAsync(string path, CancellationToken cancellationToken)
    {
        if (SyncPaths.CannotUpload(Prefix, path) is { } problem)
        {
            Skip(path, problem);
            return;
        }
        // What the file was before reading it: if it differs afterwards, it changed during the upload and goes up again.
        var before = Stat(path);
        if (before is null)
            return;
        string etag;
        try
        {
            etag = before.Size >= settings.MultipartThreshold
                ? await UploadInPartsAsync(path, before, cancellationToken)
                : await UploadWholeAsync(path, before, cancellationToken);
        }
        catch (Exception exception) when (exception is FileNotFoundException or DirectoryNotFoundException
            || (exception is IOException or AmazonClientException && Stat(path) is var now && (now is null || now.MtimeTicks != before.MtimeTicks || now.Size != before.Size)))
        {
            S3SyncLog.ChangedDuringUpload(logger, path);
            MarkDirty(path);
            return;
        }
        var after = Stat(path);
        state.Set(path, new SyncedEntry(etag, before.MtimeTicks, before.Size));
        metrics.Transferred("upload", before.Size);
        Progressed();
        S3SyncLog.Uploaded(logger, path, before.Size);
        if (after is null || after.MtimeTicks != before.MtimeTicks || after.Size != before.Size)
        {
            S3SyncLog.ChangedDuringUpload(logger, path);
            MarkDirty(path);
        }
    }

    private async Task<string> UploadWholeAsync(string path, LocalItem before, CancellationToken cancellationToken)
    {
        await using var stream = new FileStream(FullPath(path), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 16, useAsync: true);
        var request = new PutObjectRequest { BucketName = settings.Bucket, Key = Prefix + path, InputStream = stream, AutoCloseStream = false };
        AddMetadata(request.Metadata, before);
        var response = await s3.PutObjectAsync(request, cancellationToken);
        return SyncPaths.NormalETag(response.ETag);
    }

    private async Task<string> UploadInPartsAsync(string path, LocalItem before, CancellationToken cancellationToken)
    {
        var start = new InitiateMultipartUploadRequest { BucketName = settings.Bucket, Key = Prefix + path };
        AddMetadata(start.Metadata, before);
        var upload = await s3.InitiateMultipartUploadAsync(start, cancellationToken);
        try
        {
            // S3 allows 10,000 parts: 16 MB parts up to 160 GB, larger parts beyond.
            var partSize = Math.Max(16L * 1024 * 1024, (before.Size + 9_999) / 10_000);
            var parts = new List<PartETag>();
            for (long position = 0, number = 1; position < before.Size; position += partSize, number++)
            {
                var part = await s3.UploadPartAsync(new UploadPartRequest
                {
                    BucketName = settings.Bucket,
                    Key = Prefix + path,
                    UploadId = upload.UploadId,
                    PartNumber = (int)number,
                    FilePath = FullPath(path),
                    FilePosition = position,
                    PartSize = Math.Min(partSize, before.Size - position),
                }, cancellationToken);
                parts.Add(new PartETag((int)number, part.ETag));
                Progressed();
            }
            var done = await s3.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
            {
                BucketName = settings.Bucket,
                Key = Prefix + path,
                UploadId = upload.UploadId,
                PartETags = parts,
            }, cancellationToken);
            return SyncPaths.NormalETag(done.ETag);
        }
        catch
        {
            try
            {
                await s3.AbortMultipartUploadAsync(new AbortMultipartUploadRequest { BucketName = settings.Bucket, Key = Prefix + path, UploadId = upload.UploadId }, CancellationToken.None);
            }
            catch (Exception exception) when (exception is AmazonClientException or HttpRequestException or OperationCanceledException)
            {
            }
            throw;
        }
    }

    private static void AddMetadata(MetadataCollection metadata, LocalItem item)
    {
        metadata[SyncPaths.MtimeMetadata] = SyncPaths.FormatMtime(item.MtimeTicks);
        metadata[SyncPaths.ModeMetadata] = SyncPaths.FormatMode(item.Mode);
    }

    /// <summary>
    /// The object <paramref name="path"/> into the local <paramref name="target"/>, through a temporary file, with its
    /// mtime and mode. Replaces the local file only if it is still as <paramref name="expected"/> (null: absent);
    /// otherwise it changed meanwhile and the download is kept beside it as a conflict copy.
    /// </summary>
    private async Task DownloadAsync(string path, string target, RemoteItem remote, LocalItem? expected, CancellationToken cancellationToken)
    {
        var full = FullPath(target);
        var folder = Path.GetDirectoryName(full)!;
        try
        {
            Directory.CreateDirectory(folder);
        }
        catch (IOException) when (AncestorIsFile(target))
        {
            Skip(path, "a local file has the name of a folder in its path; rename one of them");
            return;
        }
        var temporary = Path.Combine(folder, SyncPaths.TemporaryPrefix + Guid.NewGuid().ToString("N"));
        string etag;
        long size;
        try
        {
            GetObjectResponse fetched;
            try
            {
                fetched = await s3.GetObjectAsync(new GetObjectRequest { BucketName = settings.Bucket, Key = Prefix + path }, cancellationToken);
            }
            catch (AmazonS3Exception exception) when (exception.ErrorCode is "NoSuchKey")
            {
                // Deleted in S3 since it was listed: nothing to fetch, and the next round sees it gone.
                S3SyncLog.GoneBeforeDownload(logger, path);
                return;
            }
            using (var response = fetched)
            {
                etag = SyncPaths.NormalETag(response.ETag);
                await using (var output = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
                    await CopyAsync(response.ResponseStream, output, cancellationToken);
                var mtime = SyncPaths.ParseMtime(response.Metadata[SyncPaths.MtimeMetadata]) ?? (response.LastModified ?? DateTime.UtcNow).ToUniversalTime().Ticks;
                if (!OperatingSystem.IsWindows() && SyncPaths.ParseMode(response.Metadata[SyncPaths.ModeMetadata]) is { } mode)
                    File.SetUnixFileMode(temporary, mode);
                File.SetLastWriteTimeUtc(temporary, new DateTime(mtime, DateTimeKind.Utc));
                size = new FileInfo(temporary).Length;
            }
            var now = Stat(target);
            var unchanged = expected is null ? now is null && !Directory.Exists(full) : now is not null && now.MtimeTicks == expected.MtimeTicks && now.Size == expected.Size;
            if (!unchanged)
            {
                var conflict = SyncPaths.ConflictPath(target, time.GetUtcNow().UtcDateTime, candidate => Path.Exists(FullPath(candidate)));
                File.Move(temporary, FullPath(conflict));
                metrics.Conflict();
                S3SyncLog.Conflict(logger, target, conflict);
                MarkDirty(conflict);
                return;
            }
            File.Move(temporary, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary))
                File.Delete(temporary);
        }
        if (target == path && Stat(target) is { } written)
            state.Set(path, new SyncedEntry(etag, written.MtimeTicks, written.Size));
        else
            MarkDirty(target);
        metrics.Transferred("download", size);
        Progressed();
        S3SyncLog.Downloaded(logger, target, size);
    }

    /// <summary>A copy that counts as progress every few MB, so a long download does not look like a stuck sync.</summary>
    private async Task CopyAsync(Stream from, Stream to, CancellationToken cancellationToken)
    {
        var buffer = new byte[1 << 17];
        long sinceProgress = 0;
        int read;
        while ((read = await from.ReadAsync(buffer, cancellationToken)) > 0)
        {
            await to.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
            if ((sinceProgress += read) >= 16 * 1024 * 1024)
            {
                Progressed();
                sinceProgress = 0;
            }
        }
    }

    /// <summary>Both sides changed (or nothing is known of them and they differ): the newer keeps the name, the older becomes a conflict copy.</summary>
    private async Task KeepBothAsync(string path, LocalItem local, RemoteItem remote, CancellationToken cancellationToken)
    {
        var head = await s3.GetObjectMetadataAsync(new GetObjectMetadataRequest { BucketName = settings.Bucket, Key = Prefix + path }, cancellationToken);
        var remoteMtime = SyncPaths.ParseMtime(head.Metadata[SyncPaths.MtimeMetadata]);
        var etag = SyncPaths.NormalETag(head.ETag);
        if (await SameContentAsync(path, local, head.ContentLength, etag, remoteMtime, cancellationToken))
        {
            state.Set(path, new SyncedEntry(etag, local.MtimeTicks, local.Size));
            return;
        }
        var conflict = SyncPaths.ConflictPath(path, time.GetUtcNow().UtcDateTime, candidate => Path.Exists(FullPath(candidate)) || state.Entries.ContainsKey(candidate));
        var remoteNewer = (remoteMtime ?? head.LastModified?.ToUniversalTime().Ticks ?? 0) > local.MtimeTicks;
        metrics.Conflict();
        if (remoteNewer)
        {
            S3SyncLog.Conflict(logger, path, conflict + " (the local version)");
            File.Move(FullPath(path), FullPath(conflict));
            MarkDirty(conflict);
            await DownloadAsync(path, path, remote with { ETag = etag }, expected: null, cancellationToken);
        }
        else
        {
            S3SyncLog.Conflict(logger, path, conflict + " (the version in S3)");
            await DownloadAsync(path, conflict, remote with { ETag = etag }, expected: null, cancellationToken);
            await UploadAsync(path, cancellationToken);
        }
    }

    private async Task<bool> SameContentAsync(string path, LocalItem local, long remoteSize, string etag, long? remoteMtime, CancellationToken cancellationToken)
    {
        if (remoteSize != local.Size)
            return false;
        if (remoteMtime == local.MtimeTicks)
            return true;
        if (etag.Contains('-') || etag.Length != 32)
            return false;
        await using var stream = new FileStream(FullPath(path), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 16, useAsync: true);
        var hash = await MD5.HashDataAsync(stream, cancellationToken);
        return Convert.ToHexStringLower(hash) == etag.ToLowerInvariant();
    }

    /// <summary>What was synced, by ETag and by size and mtime, to recognise a renamed file; built when first asked in a round.</summary>
    private sealed class RenameSources(SyncState state)
    {
        private readonly Lazy<ILookup<string, string>> byETag = new(() => Files(state).ToLookup(entry => entry.Value.ETag, entry => entry.Key));
        private readonly Lazy<ILookup<(long, long), string>> byFile = new(() => Files(state).ToLookup(entry => (entry.Value.Size, entry.Value.MtimeTicks), entry => entry.Key));

        public IEnumerable<string> WithETag(string etag) => byETag.Value[etag];

        public IEnumerable<string> WithFile(long size, long mtimeTicks) => byFile.Value[(size, mtimeTicks)];

        private static IEnumerable<KeyValuePair<string, SyncedEntry>> Files(SyncState state) =>
            state.Entries.Where(entry => !SyncPaths.IsDirectory(entry.Key)).ToList();
    }

    /// <summary>Deletes the S3 copy of a path deleted here, and forgets it.</summary>
    private async Task DeleteRemoteAsync(string path, CancellationToken cancellationToken)
    {
        await s3.DeleteObjectAsync(new DeleteObjectRequest { BucketName = settings.Bucket, Key = Prefix + path }, cancellationToken);
        state.Remove(path);
        metrics.Deleted("remote");
        S3SyncLog.Deleted(logger, path, "in S3");
    }
}
