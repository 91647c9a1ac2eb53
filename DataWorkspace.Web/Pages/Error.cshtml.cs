using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace DataWorkspace.Web.Pages;

/// <summary>The page shown for an error status (re-executed by the status code pages middleware).</summary>
[AllowAnonymous]
public sealed class ErrorModel : PageModel
{
    public string Title { get; private set; } = "";
    public string Message { get; private set; } = "";

    public void OnGet(int code)
    {
        (Title, Message) = code switch
        {
            404 => ("Page not found", "If you typed the address, check it is correct. If you followed a link, the page may have been moved or removed."),
            413 => ("The upload is too large", "The file is larger than this page accepts. Check the size limit shown next to the upload, and try a smaller file."),
            403 => ("You do not have access to this page", "Ask the owner of the data, or an administrator, if you need it."),
            _ => ("Something went wrong", $"The request could not be completed (status {code}). Try again; if it keeps happening, tell the platform team."),
        };
        if (HttpContext.Features.Get<Microsoft.AspNetCore.Diagnostics.IStatusCodeReExecuteFeature>() is null) Response.StatusCode = code;
    }
}
