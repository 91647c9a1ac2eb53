using DataWorkspace.Web.Security;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.Filters;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace DataWorkspace.Web.Pages;

/// <summary>
/// The page shown for an error status (re-executed by the status code pages middleware). The failed request's
/// method comes with it, so the page answers every method, and has no form whose token it could check.
/// </summary>
[AllowAnonymous]
[IgnoreAntiforgeryToken]
public sealed class ErrorModel : PageModel
{
    public string Title { get; private set; } = "";
    public string Message { get; private set; } = "";

    [NonHandler]
    public override void OnPageHandlerExecuting(PageHandlerExecutingContext context)
    {
        var code = int.TryParse(RouteData.Values["code"]?.ToString(), out var parsed) ? parsed : StatusCodes.Status500InternalServerError;
        (Title, Message) = code switch
        {
            _ when HttpContext.Features.Get<RefusedRequest>() is { } refused => (refused.Title, refused.Detail),
            404 => ("Page not found", "If you typed the address, check it is correct. If you followed a link, the page may have been moved or removed."),
            413 => ("The upload is too large", "The file is larger than this page accepts. Check the size limit shown next to the upload, and try a smaller file."),
            403 => ("You do not have access to this page", "Ask the owner of the data, or an administrator, if you need it."),
            503 => ("The platform is busy", "Something it needs to answer (its database) is busy or restarting: wait a few seconds and try again."),
            400 => ("Check what you sent", "Something in the address or the form could not be used. Go back, check it, and try again."),
            _ => ("Something went wrong", $"The request could not be completed (status {code}). Try again; if it keeps happening, tell the platform team."),
        };
        if (HttpContext.Features.Get<Microsoft.AspNetCore.Diagnostics.IStatusCodeReExecuteFeature>() is null) Response.StatusCode = code;
    }
}
