using System.Collections.Concurrent;

namespace DataWorkspace.Proxy;

/// <summary>
/// Concurrent lookups of one key share a single call: when a browser's or a tool client's parallel connections all
/// miss a cache at the same moment, the web app or the database is asked once, not once per connection.
/// </summary>
public sealed class SharedLookups<TKey, TValue>(IEqualityComparer<TKey>? comparer = null) where TKey : notnull
{
    private readonly ConcurrentDictionary<TKey, Lazy<Task<TValue>>> inFlight = new(comparer);

    public Task<TValue> GetAsync(TKey key, Func<TKey, Task<TValue>> lookup)
    {
        var mine = new Lazy<Task<TValue>>(() => lookup(key));
        var shared = inFlight.GetOrAdd(key, mine);
        if (shared == mine)
            _ = shared.Value.ContinueWith(_ => inFlight.TryRemove(KeyValuePair.Create(key, mine)), TaskScheduler.Default);
        return shared.Value;
    }
}
