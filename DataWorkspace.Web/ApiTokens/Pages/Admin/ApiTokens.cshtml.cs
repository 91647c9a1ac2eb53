using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace DataWorkspace.Web.ApiTokens.Pages.Admin;

/// <summary>Every personal API token in use, whose it is and when it was last used; an administrator may revoke any.</summary>
public sealed class ApiTokensModel(ApiTokenService tokens) : PageModel
{
    public const string Path = "/admin/api-tokens";

    public IReadOnlyList<(ApiTokenView Token, string OwnerEmail)> Tokens { get; private set; } = [];
    public string? Message { get; private set; }

    [BindProperty(SupportsGet = true)] public string? Email { get; set; }

    public async Task OnGetAsync(string? done, CancellationToken cancellationToken)
    {
        // Fixed texts chosen by a code, so a link cannot put its own words on this page.
        Message = done switch { "revoked" => "The token was revoked.", "missing" => "There is no such token.", _ => null };
        Tokens = await tokens.ListActiveAsync(Email, cancellationToken);
    }

    public async Task<IActionResult> OnPostRevokeAsync(string id, CancellationToken cancellationToken)
    {
        var revoked = await tokens.RevokeAsync(User, id, ownerId: null, cancellationToken);
        return Redirect($"{Path}?done={(revoked ? "revoked" : "missing")}");
    }
}
