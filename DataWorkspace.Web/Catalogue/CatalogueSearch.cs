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
public sealed class CatalogueSearch(NpgsqlDataSource dataSource, CatalogueSnapshots snapshots, TimeProvider time)
{
    /// <remarks>
    /// One round trip reads the catalogue's version and the reader's permissions and bookmarks; the searchable fields
    /// come from the in-memory snapshot for that version and text matches from a per-snapshot cache.
    /// The filters and facet counts are sums of each dataset's contribution, and a dataset's contribution depends on the
    /// reader only through "can read" and "bookmarked". So the pass over the candidates is done once per query and email
    /// domain with no permissions and no bookmarks, and cached with the snapshot; each reader's few permitted and
    /// bookmarked datasets then swap their contribution for the one they really make. The page is picked without
    /// sorting more than it needs.
    /// </remarks>
    public async Task<CatalogueResults> SearchAsync(CatalogueQuery query, Reader reader, CancellationToken cancellationToken)
    {
        var (version, permittedIds, bookmarkIds) = await ReaderStateAsync(reader, cancellationToken);
        var snapshot = await snapshots.AtVersionAsync(version, cancellationToken);
        var matches = query.SearchText is { } text ? await snapshots.MatchesAsync(snapshot, text, cancellationToken) : null;
        var entries = snapshot.Entries;
        var permitted = snapshot.IndexesOf(permittedIds);
        var bookmarks = snapshot.IndexesOf(bookmarkIds);
        var domain = snapshot.DomainIndex(reader.EmailDomain);
        var filters = new Filters(
            Mask(Enum.GetValues<DatasetType>().Length, query.Types.Select(type => (int)type)),
            Mask(snapshot.Topics.Length, query.Topics.Select(topic => Array.IndexOf(snapshot.Topics, topic))),
            Mask(snapshot.Publishers.Length, query.Publishers.Select(publisher => Array.IndexOf(snapshot.Publishers, publisher))),
            query.OnlyMyAccess, query.OnlyBookmarked);
        bool ReadableByDomain(CatalogueEntry entry) => !entry.Restricted || (domain >= 0 && Array.IndexOf(entry.Domains, domain) >= 0);

        var key = string.Join('\u001f', query.SearchText ?? "", string.Join(',', query.Types), string.Join('\u001e', query.Topics),
            string.Join('\u001e', query.Publishers), query.OnlyMyAccess, query.OnlyBookmarked, domain);
        var shared = snapshot.Tallies.GetOrAdd(key, _ =>
        {
            var tally = new Tally(snapshot);
            var candidates = matches?.Indexes.Length ?? entries.Length;
            for (var k = 0; k < candidates; k++)
            {
                var index = matches is null ? k : matches.Indexes[k];
                if (tally.Add(entries[index], filters, ReadableByDomain(entries[index]), isBookmarked: false, sign: 1)) tally.Filtered.Add(index);
            }

            return tally;
        });
        if (snapshot.Tallies.Count > CatalogueSnapshots.MaxCachedTallies) snapshot.Tallies.Clear();

        // This reader's own datasets: take out what each contributed as a stranger of the same domain, put in what it really contributes.
        var mine = shared.Copy();
        var removed = new HashSet<int>();
        var added = new List<int>();
        foreach (var index in permitted.Union(bookmarks))
        {
            if (matches is not null && Array.BinarySearch(matches.Indexes, index) < 0) continue;
            var entry = entries[index];
            var baseRead = ReadableByDomain(entry);
            var canRead = baseRead || permitted.Contains(index);
            var isBookmarked = bookmarks.Contains(index);
            if (canRead == baseRead && !isBookmarked) continue;
            var wasIn = mine.Add(entry, filters, baseRead, isBookmarked: false, sign: -1);
            var isIn = mine.Add(entry, filters, canRead, isBookmarked, sign: 1);
            if (wasIn && !isIn) removed.Add(index);
            if (isIn && !wasIn) added.Add(index);
        }

        var filtered = removed.Count + added.Count == 0
            ? shared.Filtered
            : [.. shared.Filtered.Where(index => !removed.Contains(index)).Concat(added).Order()];
        List<float>? RanksOf(List<int> indexes) => matches is null ? null : indexes.ConvertAll(index => matches.Ranks[Array.BinarySearch(matches.Indexes, index)]);
        var ranks = ReferenceEquals(filtered, shared.Filtered) ? shared.Ranks ??= RanksOf(filtered) : RanksOf(filtered);

        var total = filtered.Count;
        var pageCount = Math.Max(1, (total + CatalogueQuery.PageSize - 1) / CatalogueQuery.PageSize);
        var page = Math.Clamp(query.Page, 1, pageCount);
        var items = PageOf(snapshot, filtered, ranks, query, page)
            .Select(index =>
            {
                var entry = entries[index];
                return new DatasetSummary(entry.Id, entry.Slug, entry.Name, entry.ShortDescription, entry.Type, snapshot.Publishers[entry.Publisher],
                    entry.AccessType, ReadableByDomain(entry) || permitted.Contains(index), bookmarks.Contains(index), entry.PublishedAt);
            })
            .ToList();

        var facets = new CatalogueFacets(
            Enum.GetValues<DatasetType>()
                .Select(type => new FacetCount(type.ToString(), DatasetTypes.Label(type), mine.Types[(int)type], query.Types.Contains(type)))
                .ToList(),
            Counts(snapshot.Topics, snapshot.TopicsByName, mine.Topics, query.Topics),
            Counts(snapshot.Publishers, snapshot.PublishersByName, mine.Publishers, query.Publishers),
            mine.MyAccess,
            mine.Bookmarked);

        return new CatalogueResults(items, total, page, pageCount, facets);
    }

    /// <summary>The query's filters over the snapshot's indexes (a null mask: no filter on that facet).</summary>
    internal sealed record Filters(bool[]? Types, bool[]? Topics, bool[]? Publishers, bool OnlyMyAccess, bool OnlyBookmarked);

    /// <summary>Facet counts and the datasets that pass every filter: sums of each dataset's contribution.</summary>
    internal sealed class Tally
    {
        public Tally(CatalogueSnapshots.Snapshot snapshot)
        {
            Types = new int[Enum.GetValues<DatasetType>().Length];
            Topics = new int[snapshot.Topics.Length];
            Publishers = new int[snapshot.Publishers.Length];
        }

        private Tally(Tally from)
        {
            Types = [.. from.Types];
            Topics = [.. from.Topics];
            Publishers = [.. from.Publishers];
            MyAccess = from.MyAccess;
            Bookmarked = from.Bookmarked;
        }

        public int[] Types { get; }
        public int[] Topics { get; }
        public int[] Publishers { get; }
        public int MyAccess { get; private set; }
        public int Bookmarked { get; private set; }

        /// <summary>The snapshot indexes that pass every filter, ascending (name order). Shared and read-only once cached.</summary>
        public List<int> Filtered { get; } = [];

        /// <summary>The text rank of each of <see cref="Filtered"/>, worked out by the first search that needs it.</summary>
        public List<float>? Ranks { get; set; }

        /// <summary>The counts (not <see cref="Filtered"/>), for one reader to adjust.</summary>
        public Tally Copy() => new(this);

        /// <summary>Adds (sign 1) or takes away (sign -1) what <paramref name="entry"/> contributes to each count; true when it passes every filter.</summary>
        public bool Add(CatalogueEntry entry, Filters filters, bool canRead, bool isBookmarked, int sign)
        {
            var byType = filters.Types is null || filters.Types[(int)entry.Type];
            var byTopic = filters.Topics is null || AnySelected(entry.Topics, filters.Topics);
            var byPublisher = filters.Publishers is null || filters.Publishers[entry.Publisher];
            var byAccess = !filters.OnlyMyAccess || canRead;
            var byBookmark = !filters.OnlyBookmarked || isBookmarked;

            if (byTopic && byPublisher && byAccess && byBookmark) Types[(int)entry.Type] += sign;
            if (byType && byPublisher && byAccess && byBookmark)
                foreach (var topic in entry.Topics) Topics[topic] += sign;
            if (byType && byTopic && byAccess && byBookmark) Publishers[entry.Publisher] += sign;
            if (byType && byTopic && byPublisher && byBookmark && canRead) MyAccess += sign;
            if (byType && byTopic && byPublisher && byAccess && isBookmarked) Bookmarked += sign;
            return byType && byTopic && byPublisher && byAccess && byBookmark;
        }
    }

    /// <summary>
    /// The page's snapshot indexes. <paramref name="filtered"/> is in name order; newest-first walks the snapshot's
    /// precomputed order; relevance keeps only the best <c>page × PageSize</c> (ties in name order, as a stable sort).
    /// </summary>
    private static IEnumerable<int> PageOf(CatalogueSnapshots.Snapshot snapshot, List<int> filtered, List<float>? ranks, CatalogueQuery query, int page)
    {
        var skip = (page - 1) * CatalogueQuery.PageSize;
        switch (query.Sort)
        {
            case CatalogueSort.Newest:
                var included = new bool[snapshot.Entries.Length];
                foreach (var index in filtered) included[index] = true;
                return snapshot.NewestFirst.Where(index => included[index]).Skip(skip).Take(CatalogueQuery.PageSize);
            case CatalogueSort.Relevance when ranks is not null:
                var best = new PriorityQueue<int, (float Rank, int Index)>(Comparer<(float Rank, int Index)>.Create(
                    (a, b) => a.Rank != b.Rank ? a.Rank.CompareTo(b.Rank) : b.Index.CompareTo(a.Index)));
                var keep = skip + CatalogueQuery.PageSize;
                for (var i = 0; i < filtered.Count; i++)
                {
                    var key = (ranks[i], filtered[i]);
                    if (best.Count < keep) best.Enqueue(filtered[i], key);
                    else best.EnqueueDequeue(filtered[i], key);
                }

                var top = new int[best.Count];
                for (var i = top.Length - 1; i >= 0; i--) top[i] = best.Dequeue();
                return top.Skip(skip);
            default:
                return filtered.Skip(skip).Take(CatalogueQuery.PageSize);
        }
    }

    /// <summary>The catalogue version, the restricted datasets the reader holds an unexpired permission for, and their bookmarks: one statement.</summary>
    private async Task<(long Version, Guid[] Permitted, Guid[] Bookmarks)> ReaderStateAsync(Reader reader, CancellationToken cancellationToken)
    {
        // DatasetPermissions.ActiveAt's condition, in SQL: plain SQL because this runs on every search. One statement
        // rather than three, because each statement has a fixed cost in PostgreSQL that a search pays on every page.
        await using var command = dataSource.CreateCommand("""
            SELECT (SELECT version FROM catalogue_version WHERE id = 1),
              ARRAY(SELECT dataset_id FROM dataset_permissions WHERE user_id = $1 AND ended_at IS NULL AND (expires_at IS NULL OR expires_at > $2)),
              ARRAY(SELECT dataset_id FROM bookmarks WHERE user_id = $1)
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = reader.UserId });
        command.Parameters.Add(new NpgsqlParameter { Value = time.GetUtcNow() });
        await using var row = await command.ExecuteReaderAsync(System.Data.CommandBehavior.SingleRow, cancellationToken);
        await row.ReadAsync(cancellationToken);
        return (row.GetInt64(0), row.GetFieldValue<Guid[]>(1), row.GetFieldValue<Guid[]>(2));
    }

    /// <summary>Each value with its count, in name order; a ticked value that no longer has results still shows, with 0.</summary>
    private static List<FacetCount> Counts(string[] names, int[] byName, int[] counts, IReadOnlyList<string> selected)
    {
        var facets = new List<FacetCount>();
        foreach (var index in byName)
        {
            var name = names[index];
            if (name.Length == 0) continue;
            var isSelected = selected.Count > 0 && selected.Contains(name);
            if (counts[index] > 0 || isSelected) facets.Add(new FacetCount(name, name, counts[index], isSelected));
        }

        foreach (var value in selected)
            if (Array.IndexOf(names, value) < 0) facets.Add(new FacetCount(value, value, 0, true));
        return facets;
    }

    /// <summary>Which values a filter allows (null: no filter). A selected value the snapshot does not know allows nothing.</summary>
    private static bool[]? Mask(int length, IEnumerable<int> selected)
    {
        bool[]? mask = null;
        foreach (var index in selected)
        {
            mask ??= new bool[length];
            if (index >= 0) mask[index] = true;
        }

        return mask;
    }

    private static bool AnySelected(int[] values, bool[] mask)
    {
        foreach (var value in values)
            if (mask[value]) return true;
        return false;
    }
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
