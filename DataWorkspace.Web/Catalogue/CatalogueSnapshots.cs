using System.Collections.Concurrent;
using Npgsql;

namespace DataWorkspace.Web.Catalogue;

/// <summary>
/// What search needs to know of one published dataset to filter, count and order it. Publisher and topics are indexes
/// into the snapshot's <see cref="CatalogueSnapshots.Snapshot.Publishers"/> and <see cref="CatalogueSnapshots.Snapshot.Topics"/>,
/// so counting them is array arithmetic.
/// </summary>
public sealed record CatalogueEntry(
    Guid Id, DatasetType Type, int Publisher, AccessType AccessType, string[] AuthorizedEmailDomains, int[] Topics,
    string Name, DateTimeOffset? PublishedAt);

/// <summary>
/// The published catalogue as search sees it, held in memory and reloaded when the database's catalogue version
/// (moved on by triggers on every change) differs, so every replica sees every change on its next search. Text
/// matches are cached per snapshot.
/// </summary>
public sealed class CatalogueSnapshots(NpgsqlDataSource catalogue)
{
    private const int MaxCachedTexts = 2_000;
    private readonly SemaphoreSlim reloading = new(1, 1);
    private Snapshot? current;

    public sealed class Snapshot(long version, IReadOnlyList<CatalogueEntry> entries, string[] publishers, string[] topics)
    {
        public long Version { get; } = version;
        public IReadOnlyList<CatalogueEntry> Entries { get; } = entries;
        public string[] Publishers { get; } = publishers;
        public string[] Topics { get; } = topics;
        internal ConcurrentDictionary<string, IReadOnlyDictionary<Guid, float>> Matches { get; } = new(StringComparer.Ordinal);
    }

    public async Task<Snapshot> CurrentAsync(CancellationToken cancellationToken)
    {
        await using var versionQuery = catalogue.CreateCommand("SELECT version FROM catalogue_version WHERE id = 1");
        var version = (long)(await versionQuery.ExecuteScalarAsync(cancellationToken))!;
        if (current is { } snapshot && snapshot.Version == version) return snapshot;

        await reloading.WaitAsync(cancellationToken);
        try
        {
            if (current is { } reloaded && reloaded.Version == version) return reloaded;
            current = await LoadAsync(version, cancellationToken);
            return current;
        }
        finally
        {
            reloading.Release();
        }
    }

    /// <summary>The datasets whose text matches, with their rank (name weighs most, then summary, then description).</summary>
    public async Task<IReadOnlyDictionary<Guid, float>> MatchesAsync(Snapshot snapshot, string text, CancellationToken cancellationToken)
    {
        if (snapshot.Matches.TryGetValue(text, out var cached)) return cached;

        await using var command = catalogue.CreateCommand("""
            SELECT id, ts_rank(search_vector, websearch_to_tsquery('english', $1))
            FROM datasets
            WHERE published AND deleted_at IS NULL
              AND (search_vector @@ websearch_to_tsquery('english', $1) OR name ILIKE '%' || $2 || '%' ESCAPE '\')
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = text });
        command.Parameters.Add(new NpgsqlParameter { Value = text.Replace("\\", "\\\\").Replace("%", "\\%").Replace("_", "\\_") });
        var matches = new Dictionary<Guid, float>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken)) matches[reader.GetGuid(0)] = reader.GetFloat(1);
        }

        if (snapshot.Matches.Count >= MaxCachedTexts) snapshot.Matches.Clear();
        snapshot.Matches[text] = matches;
        return matches;
    }

    private async Task<Snapshot> LoadAsync(long version, CancellationToken cancellationToken)
    {
        await using var command = catalogue.CreateCommand("""
            SELECT d.id, d.type, d.publisher, d.access_type, d.authorized_email_domains,
                   coalesce(array_agg(t.name) FILTER (WHERE t.type = 'Topic'), '{}'), d.name, d.published_at
            FROM datasets d
            LEFT JOIN dataset_tags dt ON dt.datasets_id = d.id
            LEFT JOIN tags t ON t.id = dt.tags_id
            WHERE d.published AND d.deleted_at IS NULL
            GROUP BY d.id
            """);
        var entries = new List<CatalogueEntry>();
        var publishers = new Dictionary<string, int>(StringComparer.Ordinal);
        var topics = new Dictionary<string, int>(StringComparer.Ordinal);
        static int IndexOf(Dictionary<string, int> names, string name) =>
            names.TryGetValue(name, out var index) ? index : names[name] = names.Count;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            entries.Add(new CatalogueEntry(
                reader.GetGuid(0),
                Enum.Parse<DatasetType>(reader.GetString(1)),
                IndexOf(publishers, reader.GetString(2)),
                Enum.Parse<AccessType>(reader.GetString(3)),
                reader.GetFieldValue<string[]>(4),
                [.. reader.GetFieldValue<string[]>(5).Select(topic => IndexOf(topics, topic))],
                reader.GetString(6),
                reader.IsDBNull(7) ? null : reader.GetFieldValue<DateTimeOffset>(7)));
        }

        // Search lists by name unless asked otherwise: sort once here, not per request.
        entries.Sort((left, right) => string.CompareOrdinal(left.Name, right.Name) is var byName and not 0 ? byName : left.Id.CompareTo(right.Id));
        return new Snapshot(version, entries, Names(publishers), Names(topics));
    }

    private static string[] Names(Dictionary<string, int> indexes)
    {
        var names = new string[indexes.Count];
        foreach (var (name, index) in indexes) names[index] = name;
        return names;
    }
}
