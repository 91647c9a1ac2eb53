namespace DataWorkspace.Web.DatabaseAccess;

/// <summary>
/// Something that runs with a tool login (a tool instance, a visualisation) and needs it valid while it runs. At every
/// synchronisation the data access layer asks about each live tool login, renews those still needed and retires the rest.
/// </summary>
public interface IDatabaseLoginHolders
{
    /// <summary>
    /// Of <paramref name="roles"/>, the logins this holder knows, each with the latest moment it may still be needed:
    /// the end of its holder's life while that runs, <see cref="DateTimeOffset.MinValue"/> once it has ended.
    /// </summary>
    Task<IReadOnlyDictionary<string, DateTimeOffset>> NeededUntilAsync(IReadOnlyCollection<string> roles, CancellationToken cancellationToken);
}
