using System.Collections.Concurrent;
using DataWorkspace.Contracts;

namespace DataWorkspace.Proxy.Tools;

/// <summary>
/// <see cref="ToolHostName.Parse"/> remembered per label: every request to a tool names the same host, and parsing it
/// (lower-casing, two regular expressions) on every request would allocate more than the rest of its routing. Only
/// labels that are a tool's address are kept, and at most <see cref="MaxEntries"/> of them, so made-up host names
/// cannot fill memory.
/// </summary>
public sealed class ToolHostNames
{
    private const int MaxEntries = 20_000;
    private int added;

    private readonly ConcurrentDictionary<string, ToolHostName> known = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ToolHostName>.AlternateLookup<ReadOnlySpan<char>> byLabel;

    public ToolHostNames() => byLabel = known.GetAlternateLookup<ReadOnlySpan<char>>();

    public ToolHostLabel Parse(ReadOnlySpan<char> label)
    {
        if (byLabel.TryGetValue(label, out var name)) return new(name, null, ToolHostProblem.None);
        var parsed = ToolHostName.Parse(label.ToString());
        if (parsed.Name is not { } found) return parsed;
        // A counter rather than Count, which locks the whole dictionary: labels can come from anyone.
        if (Interlocked.Increment(ref added) > MaxEntries)
        {
            known.Clear();
            Interlocked.Exchange(ref added, 0);
        }

        byLabel.TryAdd(label, found);
        return parsed;
    }
}
