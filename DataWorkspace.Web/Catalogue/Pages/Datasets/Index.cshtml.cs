using DataWorkspace.Web.Catalogue;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace DataWorkspace.Web.Catalogue.Pages.Datasets;

public sealed class IndexModel(CatalogueSearch search) : PageModel
{
    public string? Text { get; private set; }
    public List<DatasetType> Types { get; private set; } = [];
    public List<string> Topics { get; private set; } = [];
    public List<string> Publishers { get; private set; } = [];
    public bool OnlyMyAccess { get; private set; }
    public bool OnlyBookmarked { get; private set; }
    public CatalogueSort Sort { get; private set; } = CatalogueSort.Relevance;
    public int PageNumber { get; private set; } = 1;

    public CatalogueResults Results { get; private set; } = null!;

    /// <remarks>
    /// The query string is read here rather than by model binding: this is the portal's busiest page, and binding seven
    /// properties (and offering them Razor Pages' own "page" route value) cost more than the search. Values that do not
    /// parse are ignored, as binding did.
    /// </remarks>
    public async Task OnGetAsync(CancellationToken cancellationToken)
    {
        var query = Request.Query;
        Text = query["q"].FirstOrDefault();
        Types = [.. query["type"].Select(value => Enum.TryParse<DatasetType>(value, ignoreCase: true, out var type) && Enum.IsDefined(type) ? type : (DatasetType?)null).OfType<DatasetType>()];
        Topics = [.. query["topic"].OfType<string>()];
        Publishers = [.. query["publisher"].OfType<string>()];
        OnlyMyAccess = bool.TryParse(query["access"].FirstOrDefault(), out var access) && access;
        OnlyBookmarked = bool.TryParse(query["bookmarked"].FirstOrDefault(), out var bookmarked) && bookmarked;
        Sort = Enum.TryParse<CatalogueSort>(query["sort"].FirstOrDefault(), ignoreCase: true, out var sort) && Enum.IsDefined(sort) ? sort : CatalogueSort.Relevance;
        PageNumber = int.TryParse(query["page"].FirstOrDefault(), out var page) ? page : 1;
        Results = await search.SearchAsync(new CatalogueQuery
        {
            Text = Text,
            Types = Types,
            Topics = Topics,
            Publishers = Publishers,
            OnlyMyAccess = OnlyMyAccess,
            OnlyBookmarked = OnlyBookmarked,
            Sort = Sort,
            Page = PageNumber,
        }, User.AsReader(), cancellationToken);
    }

    public string PageUrl(int page)
    {
        var query = Request.Query.Where(pair => pair.Key != "page").SelectMany(pair => pair.Value.Select(value => new KeyValuePair<string, string?>(pair.Key, value))).ToList();
        query.Add(new("page", page.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        return "/datasets" + QueryString.Create(query);
    }
}
