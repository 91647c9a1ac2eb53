using DataWorkspace.Web.Identity;
using DataWorkspace.Web.Portal;
using DataWorkspace.Web.Tools;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace DataWorkspace.Web.Tools.Pages.Apps;

/// <summary>
/// A tool or visualisation as its template says to show it: wrapped (the portal's header above the app in a
/// full-height frame) or, for the others, straight at its own address.
/// </summary>
public sealed class IndexModel(ToolTemplates templates, PortalLinks links) : PageModel
{
    public string Name { get; private set; } = "";
    public Uri AppUrl { get; private set; } = null!;

    public async Task<IActionResult> OnGetAsync(string basename, CancellationToken cancellationToken)
    {
        if (await templates.ByBasenameAsync(basename, cancellationToken) is not { Visible: true } template) return NotFound();
        Name = template.Name;
        AppUrl = ToolHosts.UrlOf(ToolHosts.HostFor(template, User.Id()), links.Root);
        return template.Wrap == WrapMode.FullHeightIframe ? Page() : Redirect(AppUrl.ToString());
    }
}
