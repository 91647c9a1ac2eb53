using DataWorkspace.Web.Identity;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace DataWorkspace.Web.ApiTokens.Pages.Account;

/// <summary>One's personal API tokens: make one (shown once), see them all, revoke any.</summary>
public sealed class TokensModel(ApiTokenService tokens) : PageModel
{
    public IReadOnlyList<ApiTokenView> Tokens { get; private set; } = [];

    /// <summary>The token just made, shown this once.</summary>
    public CreatedApiToken? Created { get; private set; }
    public string? Message { get; private set; }

    /// <summary>What was wrong with the form: the field (its element's id) and what to do.</summary>
    public (string Field, string Message)? Error { get; private set; }

    [BindProperty] public string? Name { get; set; }
    [BindProperty] public int ExpiresInDays { get; set; } = ApiTokenRules.DefaultDays;
    [BindProperty] public List<string> Scopes { get; set; } = [];

    // What a redirect back may say: fixed texts chosen by a code, so a link cannot put its own words on this page.
    private static readonly Dictionary<string, string> Outcomes = new(StringComparer.Ordinal)
    {
        ["revoked"] = "The token was revoked: scripts using it are refused within seconds.",
        ["missing"] = "You have no such token.",
    };

    public async Task OnGetAsync(string? done, CancellationToken cancellationToken)
    {
        Message = done is null ? null : Outcomes.GetValueOrDefault(done);
        Tokens = await tokens.ListAsync(User.Id(), cancellationToken);
    }

    public async Task<IActionResult> OnPostCreateAsync(CancellationToken cancellationToken)
    {
        try
        {
            Created = await tokens.CreateAsync(User, new NewApiToken(Name, ExpiresInDays, Scopes), cancellationToken);
            // The page holds the token's text: no cache or back-forward history may keep a copy.
            Response.Headers.CacheControl = "no-store";
            Name = null;
            Scopes = [];
            ExpiresInDays = ApiTokenRules.DefaultDays;
        }
        catch (ApiTokenRefusedException refused)
        {
            Error = (refused.Field switch { "expiresInDays" => "expires-in-days", "scopes" => "scopes", _ => "name" }, refused.Message);
            Response.StatusCode = StatusCodes.Status400BadRequest;
        }

        Tokens = await tokens.ListAsync(User.Id(), cancellationToken);
        return Page();
    }

    public async Task<IActionResult> OnPostRevokeAsync(string id, CancellationToken cancellationToken)
    {
        var revoked = await tokens.RevokeAsync(User, id, User.Id(), cancellationToken);
        return Redirect($"{Contracts.InternalApiTokens.Page}?done={(revoked ? "revoked" : "missing")}");
    }
}
