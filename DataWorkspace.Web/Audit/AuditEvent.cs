namespace DataWorkspace.Web.Audit;

/// <summary>
/// One line of the audit log: who did what, to what, when and from where. The table is append-only: a database
/// trigger refuses UPDATE, DELETE and TRUNCATE, so not even the web app can rewrite history.
/// </summary>
public sealed class AuditEvent
{
    public long Id { get; set; }
    public DateTimeOffset At { get; set; }
    public required string Action { get; set; }
    public required string ActorId { get; set; }
    public required string ActorEmail { get; set; }
    public string? ClientIp { get; set; }
    public Guid? DatasetId { get; set; }
    public string? SubjectUserId { get; set; }

    /// <summary>A sentence a reader of the log understands without looking anything up.</summary>
    public required string Summary { get; set; }

    /// <summary>What the summary cannot hold: the whole SQL of a query, for one.</summary>
    public string? Details { get; set; }
}

/// <summary>The actions the log records; one string each, so filters and exports are stable.</summary>
public static class AuditActions
{
    public const string SignedIn = "signed-in";
    public const string AccessRequested = "access.requested";
    public const string AccessGranted = "access.granted";
    public const string AccessRejected = "access.rejected";
    public const string AccessRevoked = "access.revoked";
    public const string AccessExpired = "access.expired";
    public const string DatasetPublished = "dataset.published";
    public const string DatasetUnpublished = "dataset.unpublished";
    public const string DatasetUpdated = "dataset.updated";
    public const string DatasetDeleted = "dataset.deleted";
    public const string ReferenceDataChanged = "reference-data.changed";
    public const string ToolsAccessCertified = "tools-access.certified";
    public const string ToolsAccessGranted = "tools-access.granted";
    public const string ToolsAccessRemoved = "tools-access.removed";
    public const string ToolsAccessLapsed = "tools-access.lapsed";
    public const string QueryRun = "query.run";
    public const string TableDownloaded = "table.downloaded";
    public const string ResultDownloaded = "query-result.downloaded";
    public const string TeamChanged = "team.changed";
    public const string ToolStarted = "tool.started";
    public const string ToolStopped = "tool.stopped";
    public const string VisualisationDatasetGranted = "visualisation.dataset_granted";
    public const string ToolTemplateChanged = "tool_template.changed";
    public const string VisualisationDatasetRemoved = "visualisation.dataset_removed";
    public const string UserDeactivated = "user.deactivated";
    public const string UserReactivated = "user.reactivated";
    public const string SignInRefused = "sign-in.refused";
    public const string FilesUploaded = "files.uploaded";
    public const string FileDownloaded = "file.downloaded";
    public const string FilesDeleted = "files.deleted";
    public const string FilesMoved = "files.moved";
    public const string ApiTokenCreated = "api-token.created";
    public const string ApiTokenRevoked = "api-token.revoked";
    public const string ApiTokenUsed = "api-token.used";

    public static readonly IReadOnlyList<string> All =
    [
        SignedIn, AccessRequested, AccessGranted, AccessRejected, AccessRevoked, AccessExpired, DatasetPublished,
        DatasetUnpublished, DatasetUpdated, DatasetDeleted, ReferenceDataChanged, ToolsAccessCertified, ToolsAccessGranted,
        ToolsAccessRemoved, ToolsAccessLapsed, QueryRun, TableDownloaded, ResultDownloaded, TeamChanged, ToolStarted, ToolStopped, VisualisationDatasetGranted, VisualisationDatasetRemoved, ToolTemplateChanged,
        UserDeactivated, UserReactivated, SignInRefused, FilesUploaded, FileDownloaded, FilesDeleted, FilesMoved,
        ApiTokenCreated, ApiTokenRevoked, ApiTokenUsed,
    ];
}
