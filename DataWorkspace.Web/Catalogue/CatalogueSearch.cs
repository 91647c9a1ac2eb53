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
public sealed class CatalogueSearch(CatalogueDbContext catalogue, DatasetAccess access)
{
    private enum Facet { None, Type, Topic, Publisher, MyAccess, Bookmarked }

    public async Task<CatalogueResults> SearchAsync(CatalogueQuery query, Reader reader, CancellationToken cancellationToken)
    {
        var filtered = Filter(query, reader, Facet.None);
        var total = await filtered.CountAsync(cancellationToken);
        var pageCount = Math.Max(1, (total + CatalogueQuery.PageSize - 1) / CatalogueQuery.PageSize);
        var page = Math.Clamp(query.Page, 1, pageCount);

        var readable = access.ReadableBy(reader);
        var ordered = Order(filtered, query);
        var items = await ordered
            .Skip((page - 1) * CatalogueQuery.PageSize)
            .Take(CatalogueQuery.PageSize)
            .Select(d => new DatasetSummary(d.Id, d.Slug, d.Name, d.ShortDescription, d.Type, d.Publisher, d.AccessType,
                catalogue.Datasets.Where(readable).Any(r => r.Id == d.Id),
                catalogue.Bookmarks.Any(b => b.DatasetId == d.Id && b.UserId == reader.UserId),
                d.PublishedAt))
            .ToListAsync(cancellationToken);

        var typeCounts = await Filter(query, reader, Facet.Type).GroupBy(d => d.Type)
            .Select(g => new { g.Key, Count = g.Count() }).ToDictionaryAsync(g => g.Key, g => g.Count, cancellationToken);
        var topicCounts = await Filter(query, reader, Facet.Topic).SelectMany(d => d.Tags).Where(t => t.Type == TagType.Topic)
            .GroupBy(t => t.Name).Select(g => new { g.Key, Count = g.Count() }).ToDictionaryAsync(g => g.Key, g => g.Count, cancellationToken);
        var publisherCounts = await Filter(query, reader, Facet.Publisher).Where(d => d.Publisher != "").GroupBy(d => d.Publisher)
            .Select(g => new { g.Key, Count = g.Count() }).ToDictionaryAsync(g => g.Key, g => g.Count, cancellationToken);
        var myAccess = await Filter(query, reader, Facet.MyAccess).Where(readable).CountAsync(cancellationToken);
        var bookmarked = await Filter(query, reader, Facet.Bookmarked)
            .CountAsync(d => catalogue.Bookmarks.Any(b => b.DatasetId == d.Id && b.UserId == reader.UserId), cancellationToken);

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

    private IQueryable<Dataset> Filter(CatalogueQuery query, Reader reader, Facet except)
    {
        var datasets = catalogue.Datasets.AsNoTracking().Where(d => d.Published && d.DeletedAt == null);
        if (query.SearchText is { } text)
            datasets = datasets.Where(d => d.SearchVector.Matches(EF.Functions.WebSearchToTsQuery("english", text))
                || EF.Functions.ILike(d.Name, "%" + EscapeLike(text) + "%", "\\"));
        if (except != Facet.Type && query.Types.Count > 0)
            datasets = datasets.Where(d => query.Types.Contains(d.Type));
        if (except != Facet.Topic && query.Topics.Count > 0)
            datasets = datasets.Where(d => d.Tags.Any(t => t.Type == TagType.Topic && query.Topics.Contains(t.Name)));
        if (except != Facet.Publisher && query.Publishers.Count > 0)
            datasets = datasets.Where(d => query.Publishers.Contains(d.Publisher));
        if (except != Facet.MyAccess && query.OnlyMyAccess)
            datasets = datasets.Where(access.ReadableBy(reader));
        if (except != Facet.Bookmarked && query.OnlyBookmarked)
            datasets = datasets.Where(d => catalogue.Bookmarks.Any(b => b.DatasetId == d.Id && b.UserId == reader.UserId));
        return datasets;
    }

    private static IQueryable<Dataset> Order(IQueryable<Dataset> datasets, CatalogueQuery query) => query.Sort switch
    {
        CatalogueSort.Name => datasets.OrderBy(d => d.Name).ThenBy(d => d.Id),
        CatalogueSort.Newest => datasets.OrderByDescending(d => d.PublishedAt).ThenBy(d => d.Name),
        _ when query.SearchText is { } text => datasets
            .OrderByDescending(d => d.SearchVector.Rank(EF.Functions.WebSearchToTsQuery("english", text)))
            .ThenBy(d => d.Name),
        _ => datasets.OrderBy(d => d.Name).ThenBy(d => d.Id),
    };

    private static string EscapeLike(string text) => text.Replace("\\", "\\\\").Replace("%", "\\%").Replace("_", "\\_");
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
