using Npgsql;

namespace DataWorkspace.Web.Catalogue;

public enum CatalogueSort
{
    Relevance,
    Name,
    Newest,
}

/// <summary>What the catalogue page asks for: free text plus facet filters, a sort and a page.</summary>
public sealed record CatalogueQuery
{
    public const int PageSize = 20;
    public const int MaxQueryLength = 256;

    public string? Text { get; init; }
    public IReadOnlyList<DatasetType> Types { get; init; } = [];
    public IReadOnlyList<string> Topics { get; init; } = [];
    public IReadOnlyList<string> Publishers { get; init; } = [];
    public bool OnlyMyAccess { get; init; }
    public bool OnlyBookmarked { get; init; }
    public CatalogueSort Sort { get; init; } = CatalogueSort.Relevance;
    public int Page { get; init; } = 1;

    public string? SearchText => string.IsNullOrWhiteSpace(Text) ? null : Text.Trim()[..Math.Min(Text.Trim().Length, MaxQueryLength)];
}

public sealed record DatasetSummary(Guid Id, string Slug, string Name, string ShortDescription, DatasetType Type, string Publisher, AccessType AccessType, bool CanRead, bool Bookmarked, DateTimeOffset? PublishedAt);

public sealed record FacetCount(string Value, string Label, int Count, bool Selected);

public sealed record CatalogueFacets(
    IReadOnlyList<FacetCount> Types,
    IReadOnlyList<FacetCount> Topics,
    IReadOnlyList<FacetCount> Publishers,
    int MyAccess,
    int Bookmarked);

public sealed record CatalogueResults(IReadOnlyList<DatasetSummary> Items, int Total, int Page, int PageCount, CatalogueFacets Facets);

/// <summary>
/// Full-text search over published datasets (PostgreSQL tsvector, ranked), with facet counts that each apply every
/// other filter, so a count says how many results ticking that box would give.
/// </summary>
public sealed class CatalogueSearch(NpgsqlDataSource dataSource, DatasetAccess access, CatalogueSnapshots snapshots)
{
    /// <summary>A dataset that matches the text, with what this reader's filters need.</summary>
    private readonly record struct Candidate(CatalogueEntry Entry, float Rank, bool CanRead, bool Bookmarked);

    /// <remarks>
    /// The catalogue's searchable fields come from an in-memory snapshot (reloaded when the catalogue changes) and text
    /// matches from a per-snapshot cache. One pass over the matches applies the filters and counts every facet (each
    /// count applies all the other filters); one query then reads the page's rows.
    /// </remarks>
    public async Task<CatalogueResults> SearchAsync(CatalogueQuery query, Reader reader, CancellationToken cancellationToken)
    {
        var permitted = await access.PermittedDatasetIdsAsync(reader, cancellationToken);
        var bookmarks = await BookmarksAsync(reader, cancellationToken);
        var snapshot = await snapshots.CurrentAsync(cancellationToken);
        var matches = query.SearchText is { } text ? await snapshots.MatchesAsync(snapshot, text, cancellationToken) : null;

        var typeCounts = new int[Enum.GetValues<DatasetType>().Length];
        var topicCounts = new int[snapshot.Topics.Length];
        var publisherCounts = new int[snapshot.Publishers.Length];
        var selectedTopics = Indexes(snapshot.Topics, query.Topics);
        var selectedPublishers = Indexes(snapshot.Publishers, query.Publishers);
        int myAccess = 0, bookmarked = 0;
        var filtered = new List<Candidate>();
        foreach (var entry in snapshot.Entries)
        {
            var rank = 0f;
            if (matches is not null && !matches.TryGetValue(entry.Id, out rank)) continue;
            var canRead = DatasetAccess.CanRead(entry.AccessType, entry.AuthorizedEmailDomains, entry.Id, reader, permitted);
            var isBookmarked = bookmarks.Contains(entry.Id);

            var byType = query.Types.Count == 0 || query.Types.Contains(entry.Type);
            var byTopic = query.Topics.Count == 0 || Array.Exists(entry.Topics, selectedTopics.Contains);
            var byPublisher = query.Publishers.Count == 0 || selectedPublishers.Contains(entry.Publisher);
            var byAccess = !query.OnlyMyAccess || canRead;
            var byBookmark = !query.OnlyBookmarked || isBookmarked;

            if (byTopic && byPublisher && byAccess && byBookmark) typeCounts[(int)entry.Type]++;
            if (byType && byPublisher && byAccess && byBookmark)
                foreach (var topic in entry.Topics) topicCounts[topic]++;
            if (byType && byTopic && byAccess && byBookmark) publisherCounts[entry.Publisher]++;
            if (byType && byTopic && byPublisher && byBookmark && canRead) myAccess++;
            if (byType && byTopic && byPublisher && byAccess && isBookmarked) bookmarked++;
            if (byType && byTopic && byPublisher && byAccess && byBookmark) filtered.Add(new Candidate(entry, rank, canRead, isBookmarked));
        }

        var total = filtered.Count;
        var pageCount = Math.Max(1, (total + CatalogueQuery.PageSize - 1) / CatalogueQuery.PageSize);
        var page = Math.Clamp(query.Page, 1, pageCount);
        var pageCandidates = Order(filtered, query).Skip((page - 1) * CatalogueQuery.PageSize).Take(CatalogueQuery.PageSize).ToList();

        var pageIds = pageCandidates.Select(c => c.Entry.Id).ToList();
        var details = await PageDetailsAsync(pageIds, cancellationToken);
        var items = pageCandidates
            .Where(c => details.ContainsKey(c.Entry.Id))
            .Select(c => new DatasetSummary(c.Entry.Id, details[c.Entry.Id].Slug, c.Entry.Name, details[c.Entry.Id].ShortDescription, c.Entry.Type,
                snapshot.Publishers[c.Entry.Publisher], c.Entry.AccessType, c.CanRead, c.Bookmarked, c.Entry.PublishedAt))
            .ToList();

        var facets = new CatalogueFacets(
            Enum.GetValues<DatasetType>()
                .Select(type => new FacetCount(type.ToString(), DatasetTypes.Label(type), typeCounts[(int)type], query.Types.Contains(type)))
                .ToList(),
            Counts(snapshot.Topics, topicCounts, query.Topics),
            Counts(snapshot.Publishers, publisherCounts, query.Publishers),
            myAccess,
            bookmarked);

        return new CatalogueResults(items, total, page, pageCount, facets);
    }

    /// <summary>Each value with its count, in name order; a ticked value that no longer has results still shows, with 0.</summary>
    private static List<FacetCount> Counts(string[] names, int[] counts, IReadOnlyList<string> selected) =>
        [
            .. names.Select((name, index) => (Name: name, Count: counts[index]))
                .Where(facet => facet.Name.Length > 0 && (facet.Count > 0 || selected.Contains(facet.Name)))
                .OrderBy(facet => facet.Name, StringComparer.OrdinalIgnoreCase)
                .Select(facet => new FacetCount(facet.Name, facet.Name, facet.Count, selected.Contains(facet.Name))),
            .. selected.Where(value => !names.Contains(value)).Select(value => new FacetCount(value, value, 0, true)),
        ];

    private static HashSet<int> Indexes(string[] names, IReadOnlyList<string> selected) =>
        [.. selected.Select(value => Array.IndexOf(names, value)).Where(index => index >= 0)];

    private async Task<HashSet<Guid>> BookmarksAsync(Reader reader, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT dataset_id FROM bookmarks WHERE user_id = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = reader.UserId });
        var ids = new HashSet<Guid>();
        await using var rows = await command.ExecuteReaderAsync(cancellationToken);
        while (await rows.ReadAsync(cancellationToken)) ids.Add(rows.GetGuid(0));
        return ids;
    }

    private async Task<Dictionary<Guid, (string Slug, string ShortDescription)>> PageDetailsAsync(List<Guid> ids, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT id, slug, short_description FROM datasets WHERE id = ANY($1)");
        command.Parameters.Add(new NpgsqlParameter { Value = ids.ToArray() });
        var details = new Dictionary<Guid, (string, string)>();
        await using var rows = await command.ExecuteReaderAsync(cancellationToken);
        while (await rows.ReadAsync(cancellationToken)) details[rows.GetGuid(0)] = (rows.GetString(1), rows.GetString(2));
        return details;
    }

    // The snapshot is in name order already (ordinal, as the database's C.UTF-8 collation), and LINQ's sorts are stable,
    // so ties fall back to name order.
    private static IEnumerable<Candidate> Order(List<Candidate> candidates, CatalogueQuery query) => query.Sort switch
    {
        CatalogueSort.Name => candidates,
        CatalogueSort.Newest => candidates.OrderByDescending(c => c.Entry.PublishedAt),
        _ when query.SearchText is not null => candidates.OrderByDescending(c => c.Rank),
        _ => candidates,
    };

}

public static class DatasetTypes
{
    public static string Label(DatasetType type) => type switch
    {
        DatasetType.SourceDataset => "Source dataset",
        DatasetType.DataCut => "Data cut",
        DatasetType.ReferenceDataset => "Reference dataset",
        DatasetType.Visualisation => "Visualisation",
        _ => type.ToString(),
    };
}
