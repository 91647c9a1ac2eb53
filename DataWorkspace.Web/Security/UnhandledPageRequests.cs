using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.Filters;

namespace DataWorkspace.Web.Security;

/// <summary>
/// A request a page has no handler for (a POST to a page that only shows things, a handler name it does not have)
/// is answered 405 or 404 saying so. Razor Pages would otherwise render the page without the handler that loads it.
/// </summary>
public sealed class UnhandledPageRequests : IPageFilter
{
    public void OnPageHandlerSelected(PageHandlerSelectedContext context)
    {
    }

    public void OnPageHandlerExecuting(PageHandlerExecutingContext context)
    {
        var handlers = context.ActionDescriptor.HandlerMethods;
        // A page with no handlers at all is only markup, which any method may render.
        if (context.HandlerMethod is not null || handlers.Count == 0) return;

        var http = context.HttpContext;
        var method = http.Request.Method;
        var name = context.RouteData.Values["handler"]?.ToString() is { Length: > 0 } routed ? routed : http.Request.Query["handler"].ToString();
        if (name.Length > 0)
        {
            http.Features.Set(new RefusedRequest("Page not found", $"This page has nothing called '{name}' to {method}. Go back to the page and use its own links and buttons."));
            context.Result = new StatusCodeResult(StatusCodes.Status404NotFound);
            return;
        }

        var allowed = handlers.Where(h => h.Name is null).Select(h => h.HttpMethod.ToUpperInvariant()).Distinct().ToList();
        if (allowed.Contains(HttpMethods.Get)) allowed.Add(HttpMethods.Head);
        http.Response.Headers.Allow = string.Join(", ", allowed);
        http.Features.Set(new RefusedRequest("Nothing to send here", $"This page takes no {method} requests. Go back to the page and use its own links and buttons."));
        context.Result = new StatusCodeResult(StatusCodes.Status405MethodNotAllowed);
    }

    public void OnPageHandlerExecuted(PageHandlerExecutedContext context)
    {
    }
}
