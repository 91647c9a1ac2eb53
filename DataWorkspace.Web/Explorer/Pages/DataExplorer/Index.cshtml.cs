using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace DataWorkspace.Web.Explorer.Pages.DataExplorer;

/// <remarks>
/// Queries run through the explorer's JSON API from Explorer/explorer.js. Without JavaScript the form still posts
/// back here, and the page keeps the SQL and says that running it needs JavaScript.
/// </remarks>
[DataWorkspace.Web.Security.LongText("sql")]
public sealed class IndexModel : PageModel
{
    [BindProperty(Name = "sql")] public string? Sql { get; set; }

    public bool NeedsJavaScript { get; private set; }

    public void OnGet()
    {
    }

    public void OnPost() => NeedsJavaScript = true;
}
