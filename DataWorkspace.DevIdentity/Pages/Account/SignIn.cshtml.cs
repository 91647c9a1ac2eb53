using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace DataWorkspace.DevIdentity.Pages.Account;

public sealed class SignInModel(DemoUsers demoUsers) : PageModel
{
    public IReadOnlyList<DemoUser> Users => [.. demoUsers.Active];

    [BindProperty(SupportsGet = true)] public string? ReturnUrl { get; set; }
    [BindProperty] public string? Email { get; set; }
    public string? Error { get; private set; }

    public void OnGet()
    {
    }

    public async Task<IActionResult> OnPostAsync()
    {
        var user = demoUsers.KnownByEmail(Email);
        if (user is null)
        {
            Error = string.IsNullOrWhiteSpace(Email)
                ? "Choose a demo user or type the email address of one."
                : $"No demo user has the email address '{Email}'. Choose one from the list.";
            Response.StatusCode = StatusCodes.Status400BadRequest;
            return Page();
        }

        if (demoUsers.StatusOf(user) != DemoUserStatus.Active)
        {
            Error = $"The account {user.Email} is disabled at this identity provider, so it cannot sign in. It can be enabled again on the Demo users page.";
            Response.StatusCode = StatusCodes.Status403Forbidden;
            return Page();
        }

        var identity = new ClaimsIdentity([new Claim(Claims.Subject, user.Id), new Claim(Claims.Name, user.Name)],
            CookieAuthenticationDefaults.AuthenticationScheme, Claims.Name, Claims.Role);
        await HttpContext.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme, new ClaimsPrincipal(identity));
        return LocalRedirect(Url.IsLocalUrl(ReturnUrl) ? ReturnUrl : "/");
    }
}
