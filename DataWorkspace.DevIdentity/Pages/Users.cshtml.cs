using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace DataWorkspace.DevIdentity.Pages;

/// <summary>
/// The demo users and whether this provider still accepts each: disable one or remove it, as an organisation does when
/// someone leaves, and enable it again. Local runs and tests only, like the whole provider.
/// </summary>
public sealed class UsersModel(DemoUsers demoUsers) : PageModel
{
    public IReadOnlyList<DemoUser> Users => demoUsers.All;
    public string? Message { get; private set; }

    public DemoUserStatus StatusOf(DemoUser user) => demoUsers.StatusOf(user);

    public void OnGet(string? message) => Message = message;

    public IActionResult OnPost(string? email, DemoUserStatus status)
    {
        var user = demoUsers.All.FirstOrDefault(u => string.Equals(u.Email, email, StringComparison.OrdinalIgnoreCase));
        if (user is null)
        {
            Message = $"No demo user has the email address '{email}'.";
            Response.StatusCode = StatusCodes.Status400BadRequest;
            return Page();
        }

        demoUsers.Set(user, status);
        return RedirectToPage(new { message = $"{user.Email} is now {status.ToString().ToLowerInvariant()}." });
    }
}
