using Microsoft.Extensions.Logging;

namespace DataWorkspace.Sidecars.S3Sync;

/// <summary>The sidecar's log events, with their fields named so the JSON log can be searched by them.</summary>
internal static partial class S3SyncLog
{
    [LoggerMessage(1, LogLevel.Information, "s3sync keeps {Local} in step with s3://{Bucket}/{Prefix}, looking at S3 every {PollSeconds} s; excluded: {Excludes}")]
    public static partial void Started(ILogger logger, string local, string bucket, string prefix, double pollSeconds, string excludes);

    [LoggerMessage(2, LogLevel.Information, "Uploaded {Path} ({Size} bytes)")]
    public static partial void Uploaded(ILogger logger, string path, long size);

    [LoggerMessage(3, LogLevel.Information, "Downloaded {Path} ({Size} bytes)")]
    public static partial void Downloaded(ILogger logger, string path, long size);

    [LoggerMessage(4, LogLevel.Information, "Deleted {Path} {Where}: it was deleted on the other side and not changed here since")]
    public static partial void Deleted(ILogger logger, string path, string where);

    [LoggerMessage(5, LogLevel.Warning, "{Path} changed both here and in S3: the older version is kept as {ConflictPath}")]
    public static partial void Conflict(ILogger logger, string path, string conflictPath);

    [LoggerMessage(6, LogLevel.Warning, "Skipped {Path}: {Reason}")]
    public static partial void Skipped(ILogger logger, string path, string reason);

    [LoggerMessage(7, LogLevel.Warning, "Sync round failed ({Reason}); trying again in {RetrySeconds} s, local changes are kept and uploaded then")]
    public static partial void RoundFailed(ILogger logger, string reason, double retrySeconds, Exception exception);

    [LoggerMessage(8, LogLevel.Information, "S3 answers again after {FailedRounds} failed round(s); catching up")]
    public static partial void Recovered(ILogger logger, int failedRounds);

    [LoggerMessage(9, LogLevel.Warning, "{Missing} synced file(s) are not in s3://{Bucket}/{Prefix} and {Why}: taken as S3 having lost them, so they are uploaded again rather than deleted here")]
    public static partial void MissingAfterOutage(ILogger logger, string bucket, string prefix, int missing, string why);

    [LoggerMessage(10, LogLevel.Information, "{Path} changed less than {QuietSeconds} s ago: not overwritten or deleted from S3 until it has been quiet that long")]
    public static partial void Quiet(ILogger logger, string path, double quietSeconds);

    [LoggerMessage(11, LogLevel.Warning, "{Path} changed or vanished while it was uploaded; it will be looked at again")]
    public static partial void ChangedDuringUpload(ILogger logger, string path);

    [LoggerMessage(12, LogLevel.Warning, "Could not save the sync state to {StateFile}")]
    public static partial void StateNotSaved(ILogger logger, string stateFile, Exception exception);

    [LoggerMessage(13, LogLevel.Warning, "Sync state: {Problem}")]
    public static partial void StateProblem(ILogger logger, string problem);

    [LoggerMessage(14, LogLevel.Warning, "Too many local changes at once for the file watcher; looking at the whole folder")]
    public static partial void WatcherOverflow(ILogger logger);

    [LoggerMessage(15, LogLevel.Information, "Stopping: finishing the transfers under way and uploading local changes not yet sent")]
    public static partial void Stopping(ILogger logger);

    [LoggerMessage(16, LogLevel.Information, "s3sync stopped")]
    public static partial void Stopped(ILogger logger);

    [LoggerMessage(18, LogLevel.Information, "Copied {Source} to {Path} {Where}: a rename, not sent again")]
    public static partial void Renamed(ILogger logger, string source, string path, string where);

    [LoggerMessage(19, LogLevel.Warning, "Cannot watch the folder for changes ({Problem}): local changes are found by walking it every poll interval instead")]
    public static partial void NoWatcher(ILogger logger, string problem);

    [LoggerMessage(20, LogLevel.Information, "{Path} was deleted in S3 before it could be downloaded; not fetched")]
    public static partial void GoneBeforeDownload(ILogger logger, string path);

    [LoggerMessage(17, LogLevel.Warning, "S3 refused {Operation} of {Path} ({ErrorCode}); skipped this round")]
    public static partial void Refused(ILogger logger, string operation, string path, string errorCode);
}
