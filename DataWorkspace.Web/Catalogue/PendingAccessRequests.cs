namespace DataWorkspace.Web.Catalogue;

/// <summary>Whether a reader's request for access still waits for a decision: access requests, a layer above the catalogue, answer it.</summary>
public interface IPendingAccessRequests
{
    /// <summary>When the user's request for this dataset that still waits for a decision was made, if there is one.</summary>
    Task<DateTimeOffset?> PendingSinceAsync(Guid datasetId, string userId, CancellationToken cancellationToken);
}
