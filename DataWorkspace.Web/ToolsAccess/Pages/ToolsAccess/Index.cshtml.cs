using DataWorkspace.Web.Identity;
using DataWorkspace.Web.ToolsAccess;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace DataWorkspace.Web.ToolsAccess.Pages.ToolsAccess;

/// <summary>Self-certification of data protection training, which gives tools access for a year from the training date.</summary>
public sealed class IndexModel(ToolsAccessService tools) : PageModel
{
    public ToolsPermission? Permission { get; private set; }
    public string? Error { get; private set; }
    public bool JustCertified { get; private set; }
    public DateOnly Today => tools.Today;

    public async Task OnGetAsync(bool certified, CancellationToken cancellationToken)
    {
        JustCertified = certified;
        Permission = await tools.ActivePermissionAsync(User.Id(), cancellationToken);
    }

    public async Task<IActionResult> OnPostAsync(DateOnly? trainingDate, bool confirm, CancellationToken cancellationToken)
    {
        Error = await tools.SelfCertifyAsync(User, trainingDate, confirm, cancellationToken);
        if (Error is null) return RedirectToPage(new { certified = true });
        Permission = await tools.ActivePermissionAsync(User.Id(), cancellationToken);
        Response.StatusCode = StatusCodes.Status400BadRequest;
        return Page();
    }
}
