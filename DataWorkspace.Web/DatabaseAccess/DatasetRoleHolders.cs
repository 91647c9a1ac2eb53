namespace DataWorkspace.Web.DatabaseAccess;

/// <summary>One that reads datasets as itself, not as a person or a team: its user id, whose role it gets, and the datasets it may read.</summary>
public sealed record DatasetRoleHolder(string UserId, IReadOnlyCollection<Guid> DatasetIds);

/// <summary>
/// The identities besides people and teams that hold dataset roles (visualisations), listed by the feature above
/// database access that owns them, so the role synchronisation gives each exactly its datasets.
/// </summary>
public interface IDatasetRoleHolders
{
    Task<IReadOnlyList<DatasetRoleHolder>> HoldersAsync(CancellationToken cancellationToken);
}
