namespace DataWorkspace.Web.DatabaseAccess;

/// <summary>Tidying of the datasets database that a feature above database access asks of each round of the <see cref="DataAccessJob"/>.</summary>
public interface IDatasetsCleanup
{
    Task CleanUpAsync(CancellationToken cancellationToken);
}
