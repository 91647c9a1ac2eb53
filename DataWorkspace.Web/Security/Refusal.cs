using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc.Abstractions;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace DataWorkspace.Web.Security;

/// <summary>Why a request was refused, for the error page to show instead of its generic text.</summary>
public sealed record RefusedRequest(string Title, string Detail);

/// <summary>Answers a refused request: the portal's error page for pages (saying why), problem+json for everything else.</summary>
public static class Refusal
{
    public static Task WriteAsync(HttpContext context, int status, string title, string detail)
    {
        if (WantsPage(context) && context.Features.Get<IStatusCodePagesFeature>() is { Enabled: true })
        {
            // The status code pages middleware renders /error/{status}, which reads the reason from here.
            context.Features.Set(new RefusedRequest(title, detail));
            context.Response.StatusCode = status;
            return Task.CompletedTask;
        }

        return TypedResults.Problem(title: title, detail: detail, statusCode: status).ExecuteAsync(context);
    }

    private static bool WantsPage(HttpContext context) => context.GetEndpoint() is { } endpoint
        ? endpoint.Metadata.GetMetadata<PageActionDescriptor>() is not null
        : !context.Request.Path.StartsWithSegments("/api");

    /// <summary>A route served by the app's minimal APIs (not a page): its bodies are JSON unless it declares otherwise.</summary>
    public static bool IsApi(Endpoint? endpoint) => endpoint is not null && endpoint.Metadata.GetMetadata<ActionDescriptor>() is null;
}
