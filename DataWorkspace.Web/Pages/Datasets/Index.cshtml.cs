using DataWorkspace.Web.Catalogue;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace DataWorkspace.Web.Pages.Datasets;

public sealed class IndexModel(CatalogueSearch search) : PageModel
{
    [BindProperty(SupportsGet = true, Name = "q")] public string? Text { get; set; }
    [BindProperty(SupportsGet = true, Name = "type")] public List<DatasetType> Types { get; set; } = [];
    [BindProperty(SupportsGet = true, Name = "topic")] public List<string> Topics { get; set; } = [];
    [BindProperty(SupportsGet = true, Name = "publisher")] public List<string> Publishers { get; set; } = [];
    [BindProperty(SupportsGet = true, Name = "access")] public bool OnlyMyAccess { get; set; }
    [BindProperty(SupportsGet = true, Name = "bookmarked")] public bool OnlyBookmarked { get; set; }
    [BindProperty(SupportsGet = true, Name = "sort")] public CatalogueSort Sort { get; set; } = CatalogueSort.Relevance;
    public int PageNumber { get; private set; } = 1;

    public CatalogueResults Results { get; private set; } = null!;

    /// <remarks>
    /// The page number comes from the query string only: bound as a page property named "page" it would also be
    /// offered Razor Pages' own "page" route value ("/Datasets/Index"), and fail to convert on every request.
    /// </remarks>
    public async Task OnGetAsync([FromQuery(Name = "page")] int? page, CancellationToken cancellationToken)
    {
        PageNumber = page ?? 1;
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
