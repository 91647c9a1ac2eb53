using DataWorkspace.Web.Data;
using Microsoft.EntityFrameworkCore;

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
public sealed class CatalogueSearch(CatalogueDbContext catalogue, DatasetAccess access, CatalogueSnapshots snapshots)
{
    /// <summary>What the facets and the ordering need to know of each dataset that matches the text.</summary>
    private sealed record Candidate(
        Guid Id, DatasetType Type, string Publisher, string[] Topics, string Name, DateTimeOffset? PublishedAt, float Rank)
    {
        public bool CanRead { get; init; }
        public bool Bookmarked { get; init; }
    }

    private enum Facet { None, Type, Topic, Publisher, MyAccess, Bookmarked }

    /// <remarks>
    /// The catalogue's searchable fields come from an in-memory snapshot (reloaded when the catalogue changes) and text
    /// matches from a per-snapshot cache; the filters, the five facet counts and the ordering are worked out in memory,
    /// and one query reads the page's rows.
    /// </remarks>
    public async Task<CatalogueResults> SearchAsync(CatalogueQuery query, Reader reader, CancellationToken cancellationToken)
    {
        var permitted = await access.PermittedDatasetIdsAsync(reader, cancellationToken);
        var bookmarks = (await catalogue.Bookmarks.AsNoTracking().Where(b => b.UserId == reader.UserId)
            .Select(b => b.DatasetId).ToListAsync(cancellationToken)).ToHashSet();

        var snapshot = await snapshots.CurrentAsync(cancellationToken);
        var matches = query.SearchText is { } text ? await snapshots.MatchesAsync(snapshot, text, cancellationToken) : null;
        var candidates = new List<Candidate>(matches?.Count ?? snapshot.Entries.Count);
        foreach (var entry in snapshot.Entries)
        {
            var rank = 0f;
            if (matches is not null && !matches.TryGetValue(entry.Id, out rank)) continue;
            candidates.Add(new Candidate(entry.Id, entry.Type, entry.Publisher, entry.Topics, entry.Name, entry.PublishedAt, rank)
            {
                CanRead = DatasetAccess.CanRead(entry.AccessType, entry.AuthorizedEmailDomains, entry.Id, reader, permitted),
                Bookmarked = bookmarks.Contains(entry.Id),
            });
        }

        var filtered = Filter(candidates, query, Facet.None).ToList();
        var total = filtered.Count;
        var pageCount = Math.Max(1, (total + CatalogueQuery.PageSize - 1) / CatalogueQuery.PageSize);
        var page = Math.Clamp(query.Page, 1, pageCount);
        var pageCandidates = Order(filtered, query).Skip((page - 1) * CatalogueQuery.PageSize).Take(CatalogueQuery.PageSize).ToList();

        var pageIds = pageCandidates.Select(c => c.Id).ToList();
        var details = await catalogue.Datasets.AsNoTracking().Where(d => pageIds.Contains(d.Id))
            .Select(d => new { d.Id, d.Slug, d.ShortDescription, d.AccessType })
            .ToDictionaryAsync(d => d.Id, cancellationToken);
        var items = pageCandidates
            .Where(c => details.ContainsKey(c.Id))
            .Select(c => new DatasetSummary(c.Id, details[c.Id].Slug, c.Name, details[c.Id].ShortDescription, c.Type, c.Publisher,
                details[c.Id].AccessType, c.CanRead, c.Bookmarked, c.PublishedAt))
            .ToList();

        var typeCounts = Filter(candidates, query, Facet.Type).CountBy(c => c.Type).ToDictionary();
        var topicCounts = Filter(candidates, query, Facet.Topic).SelectMany(c => c.Topics).CountBy(topic => topic).ToDictionary();
        var publisherCounts = Filter(candidates, query, Facet.Publisher).Where(c => c.Publisher != "").CountBy(c => c.Publisher).ToDictionary();
        var myAccess = Filter(candidates, query, Facet.MyAccess).Count(c => c.CanRead);
        var bookmarked = Filter(candidates, query, Facet.Bookmarked).Count(c => c.Bookmarked);

        var facets = new CatalogueFacets(
            Enum.GetValues<DatasetType>()
                .Select(type => new FacetCount(type.ToString(), DatasetTypes.Label(type), typeCounts.GetValueOrDefault(type), query.Types.Contains(type)))
                .ToList(),
            Counts(topicCounts, query.Topics),
            Counts(publisherCounts, query.Publishers),
            myAccess,
            bookmarked);

        return new CatalogueResults(items, total, page, pageCount, facets);
    }

    /// <summary>Each value with its count, in name order; a ticked value that no longer has results still shows, with 0.</summary>
    private static List<FacetCount> Counts(Dictionary<string, int> counts, IReadOnlyList<string> selected) =>
        [
            .. counts.OrderBy(c => c.Key, StringComparer.OrdinalIgnoreCase).Select(c => new FacetCount(c.Key, c.Key, c.Value, selected.Contains(c.Key))),
            .. selected.Where(value => !counts.ContainsKey(value)).Select(value => new FacetCount(value, value, 0, true)),
        ];

    private static IEnumerable<Candidate> Filter(IEnumerable<Candidate> candidates, CatalogueQuery query, Facet except)
    {
        if (except != Facet.Type && query.Types.Count > 0)
            candidates = candidates.Where(c => query.Types.Contains(c.Type));
        if (except != Facet.Topic && query.Topics.Count > 0)
            candidates = candidates.Where(c => c.Topics.Any(query.Topics.Contains));
        if (except != Facet.Publisher && query.Publishers.Count > 0)
            candidates = candidates.Where(c => query.Publishers.Contains(c.Publisher));
        if (except != Facet.MyAccess && query.OnlyMyAccess)
            candidates = candidates.Where(c => c.CanRead);
        if (except != Facet.Bookmarked && query.OnlyBookmarked)
            candidates = candidates.Where(c => c.Bookmarked);
        return candidates;
    }

    // Ordinal order is the database's order too (the cluster's collation is C.UTF-8).
    private static IEnumerable<Candidate> Order(IEnumerable<Candidate> candidates, CatalogueQuery query) => query.Sort switch
    {
        CatalogueSort.Name => candidates.OrderBy(c => c.Name, StringComparer.Ordinal).ThenBy(c => c.Id),
        CatalogueSort.Newest => candidates.OrderByDescending(c => c.PublishedAt).ThenBy(c => c.Name, StringComparer.Ordinal),
        _ when query.SearchText is not null => candidates.OrderByDescending(c => c.Rank).ThenBy(c => c.Name, StringComparer.Ordinal),
        _ => candidates.OrderBy(c => c.Name, StringComparer.Ordinal).ThenBy(c => c.Id),
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
