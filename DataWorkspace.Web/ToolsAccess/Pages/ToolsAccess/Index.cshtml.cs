using DataWorkspace.Web.Identity;
using DataWorkspace.Web.ToolsAccess;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace DataWorkspace.Web.ToolsAccess.Pages.ToolsAccess;

/// <summary>Self-certification of data protection training, which gives tools access for a year from the training date.</summary>
public sealed class IndexModel(ToolsAccessService tools) : PageModel
{
    public ToolsPermission? Permission { get; private set; }
    /// <summary>What is wrong, by the id of the field it is about.</summary>
    public Dictionary<string, string> Errors { get; } = [];
    public bool JustCertified { get; private set; }
    public DateOnly Today => tools.Today;

    public async Task OnGetAsync(bool certified, CancellationToken cancellationToken)
    {
        JustCertified = certified;
        Permission = await tools.ActivePermissionAsync(User.Id(), cancellationToken);
    }

    public async Task<IActionResult> OnPostAsync(DateOnly? trainingDate, bool confirm, CancellationToken cancellationToken)
    {
        if (await tools.SelfCertifyAsync(User, trainingDate, confirm, cancellationToken) is not { } error) return RedirectToPage(new { certified = true });
        // Unconfirmed is checked first, so an error after confirming is about the date.
        Errors[confirm ? "trainingDate" : "confirm"] = error;
        Permission = await tools.ActivePermissionAsync(User.Id(), cancellationToken);
        Response.StatusCode = StatusCodes.Status400BadRequest;
        return Page();
    }
}
