using System.Collections.Concurrent;
using Npgsql;

namespace DataWorkspace.Web.Catalogue;

/// <summary>
/// What search needs to know of one published dataset to filter, count, order and list it. Publisher, topics and
/// email domains are indexes into the snapshot's name tables, so filtering and counting are array arithmetic.
/// </summary>
public sealed record CatalogueEntry(
    Guid Id, DatasetType Type, int Publisher, AccessType AccessType, int[] Domains, int[] Topics,
    string Name, string Slug, string ShortDescription, DateTimeOffset? PublishedAt)
{
    public bool Restricted { get; } = AccessType == AccessType.RequiresAuthorization;
}

/// <summary>The datasets a text matches: their indexes in the snapshot (ascending, so in name order) and ranks.</summary>
public sealed record TextMatches(int[] Indexes, float[] Ranks);

/// <summary>
/// The published catalogue as search sees it, held in memory and reloaded when the database's catalogue version
/// (moved on by triggers on every change) differs, so every replica sees every change on its next search. Text
/// matches are cached per snapshot.
/// </summary>
public sealed class CatalogueSnapshots(NpgsqlDataSource catalogue)
{
    private const int MaxCachedTexts = 2_000;

    /// <summary>How many searches' shared passes a snapshot keeps (each holds up to one int per dataset).</summary>
    public const int MaxCachedTallies = 500;
    private readonly SemaphoreSlim reloading = new(1, 1);
    private Snapshot? current;

    /// <summary>The catalogue at one version, in name order, with the lookups search needs precomputed.</summary>
    public sealed class Snapshot
    {
        public Snapshot(long version, CatalogueEntry[] entries, string[] publishers, string[] topics, string[] domains)
        {
            Version = version;
            Entries = entries;
            Publishers = publishers;
            Topics = topics;
            Domains = domains;
            for (var i = 0; i < domains.Length; i++) domainIndexes[domains[i]] = i;
            for (var i = 0; i < entries.Length; i++) indexById[entries[i].Id] = i;
            // Newest first, ties in name order: what a stable sort by publication date would give, computed once.
            NewestFirst = [.. Enumerable.Range(0, entries.Length).OrderByDescending(i => entries[i].PublishedAt)];
            TopicsByName = [.. Enumerable.Range(0, topics.Length).OrderBy(i => topics[i], StringComparer.OrdinalIgnoreCase)];
            PublishersByName = [.. Enumerable.Range(0, publishers.Length).OrderBy(i => publishers[i], StringComparer.OrdinalIgnoreCase)];
        }

        private readonly Dictionary<string, int> domainIndexes = new(StringComparer.OrdinalIgnoreCase);
        private readonly Dictionary<Guid, int> indexById = [];

        public long Version { get; }
        public CatalogueEntry[] Entries { get; }
        public string[] Publishers { get; }
        public string[] Topics { get; }
        public string[] Domains { get; }
        public int[] NewestFirst { get; }

        /// <summary>Indexes into <see cref="Topics"/> and <see cref="Publishers"/> in the order the facet lists show them.</summary>
        public int[] TopicsByName { get; }
        public int[] PublishersByName { get; }
        internal ConcurrentDictionary<string, TextMatches> Matches { get; } = new(StringComparer.Ordinal);

        /// <summary>Searches' passes for a reader with no permissions and no bookmarks, by query and email domain (see CatalogueSearch).</summary>
        internal ConcurrentDictionary<string, CatalogueSearch.Tally> Tallies { get; } = new(StringComparer.Ordinal);

        /// <summary>The index of an email domain among those that grant access, or -1 when none grants any.</summary>
        public int DomainIndex(string domain) => domainIndexes.TryGetValue(domain, out var index) ? index : -1;

        /// <summary>The snapshot indexes of the given datasets (those not in the published catalogue are left out).</summary>
        public HashSet<int> IndexesOf(IEnumerable<Guid> ids) => [.. ids.Select(id => indexById.GetValueOrDefault(id, -1)).Where(index => index >= 0)];
    }

    /// <summary>The snapshot for <paramref name="version"/> (read by the caller in its own round trip), loading it if it is new.</summary>
    public async Task<Snapshot> AtVersionAsync(long version, CancellationToken cancellationToken)
    {
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
    public async Task<TextMatches> MatchesAsync(Snapshot snapshot, string text, CancellationToken cancellationToken)
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
        var ranks = new Dictionary<Guid, float>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken)) ranks[reader.GetGuid(0)] = reader.GetFloat(1);
        }

        var indexes = snapshot.IndexesOf(ranks.Keys).Order().ToArray();
        var matches = new TextMatches(indexes, [.. indexes.Select(index => ranks[snapshot.Entries[index].Id])]);
        if (snapshot.Matches.Count >= MaxCachedTexts) snapshot.Matches.Clear();
        snapshot.Matches[text] = matches;
        return matches;
    }

    private async Task<Snapshot> LoadAsync(long version, CancellationToken cancellationToken)
    {
        await using var command = catalogue.CreateCommand("""
            SELECT d.id, d.type, d.publisher, d.access_type, d.authorized_email_domains,
                   coalesce(array_agg(t.name) FILTER (WHERE t.type = 'Topic'), '{}'), d.name, d.published_at, d.slug, d.short_description
            FROM datasets d
            LEFT JOIN dataset_tags dt ON dt.datasets_id = d.id
            LEFT JOIN tags t ON t.id = dt.tags_id
            WHERE d.published AND d.deleted_at IS NULL
            GROUP BY d.id
            """);
        var entries = new List<CatalogueEntry>();
        var publishers = new Dictionary<string, int>(StringComparer.Ordinal);
        var topics = new Dictionary<string, int>(StringComparer.Ordinal);
        var domains = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
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
                [.. reader.GetFieldValue<string[]>(4).Select(domain => IndexOf(domains, domain))],
                [.. reader.GetFieldValue<string[]>(5).Select(topic => IndexOf(topics, topic))],
                reader.GetString(6),
                reader.GetString(8),
                reader.GetString(9),
                reader.IsDBNull(7) ? null : reader.GetFieldValue<DateTimeOffset>(7)));
        }

        // Search lists by name unless asked otherwise: sort once here, not per request.
        entries.Sort((left, right) => string.CompareOrdinal(left.Name, right.Name) is var byName and not 0 ? byName : left.Id.CompareTo(right.Id));
        return new Snapshot(version, [.. entries], Names(publishers), Names(topics), Names(domains));
    }

    private static string[] Names(Dictionary<string, int> indexes)
    {
        var names = new string[indexes.Count];
        foreach (var (name, index) in indexes) names[index] = name;
        return names;
    }
}
