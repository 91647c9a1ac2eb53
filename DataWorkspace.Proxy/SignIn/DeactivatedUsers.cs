using System.Collections.Concurrent;

namespace DataWorkspace.Proxy.SignIn;

/// <summary>
/// The users this replica knows an administrator has deactivated, whose sessions it ends wherever it meets them. The
/// web app owns the truth; this replica hears it from account notices and from the web app's answers (at sign-in, in
/// the session checks, and when it starts listening for notices again). Every change here is numbered, so an answer to
/// a question asked before a notice arrived does not undo what the notice said.
/// </summary>
public sealed class DeactivatedUsers(TimeProvider time)
{
    // Long enough for any answer asked before a reactivation to have arrived (the web app is given 15 seconds).
    private static readonly TimeSpan ReactivationsKeptFor = TimeSpan.FromMinutes(5);

    private readonly ConcurrentDictionary<string, Known> known = new(StringComparer.Ordinal);
    private long changes;

    private readonly record struct Known(bool Deactivated, long Change, DateTimeOffset At);

    public bool Contains(string userId) => known.TryGetValue(userId, out var entry) && entry.Deactivated;

    /// <summary>The users known to be deactivated.</summary>
    public IEnumerable<string> All => known.Where(entry => entry.Value.Deactivated).Select(entry => entry.Key);

    /// <summary>Taken before asking the web app, and given back with its answer to <see cref="Answered"/>.</summary>
    public long Mark() => Interlocked.Read(ref changes);

    public void Deactivated(string userId) => known[userId] = Next(true);

    public void Reactivated(string userId) => known[userId] = Next(false);

    /// <summary>
    /// The web app's answer about <paramref name="asked"/> (those in <paramref name="deactivated"/> are), to a question
    /// asked after <paramref name="mark"/>: taken for each user of whom nothing newer has been heard.
    /// </summary>
    public void Answered(IEnumerable<string> asked, IReadOnlySet<string> deactivated, long mark)
    {
        foreach (var userId in asked)
        {
            var isDeactivated = deactivated.Contains(userId);
            if (!known.TryGetValue(userId, out var entry))
            {
                if (isDeactivated) known.TryAdd(userId, Next(true));
                continue;
            }

            // Compared and swapped: a notice arriving meanwhile is newer than the answer, and stays.
            if (entry.Change <= mark && entry.Deactivated != isDeactivated) known.TryUpdate(userId, Next(isDeactivated), entry);
        }
    }

    private Known Next(bool deactivated)
    {
        var now = time.GetUtcNow();
        // Only deactivations need remembering for good; a reactivation only has to outlast the answers asked before it.
        foreach (var (user, entry) in known)
            if (!entry.Deactivated && entry.At < now - ReactivationsKeptFor) known.TryRemove(new KeyValuePair<string, Known>(user, entry));
        return new Known(deactivated, Interlocked.Increment(ref changes), now);
    }
}
