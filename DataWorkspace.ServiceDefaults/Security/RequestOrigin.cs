using Microsoft.AspNetCore.Http;

namespace DataWorkspace.Security;

/// <summary>
/// Whether a request that changes something comes from the portal's own pages. Tool and visualisation hosts
/// (<c>&lt;tool&gt;-&lt;hash&gt;.&lt;root&gt;</c>, <c>&lt;app&gt;.&lt;root&gt;</c>) are the same site as the portal, so its
/// SameSite cookies go with their requests; only the browser's <c>Origin</c> (or <c>Sec-Fetch-Site</c>, where no
/// Origin is sent) tells them apart. The web app and the proxy judge by this one rule.
/// </summary>
public static class RequestOrigin
{
    public const string FetchSiteHeader = "Sec-Fetch-Site";

    /// <summary>Every method but GET, HEAD, OPTIONS and TRACE, which change nothing.</summary>
    public static bool ChangesState(string method) =>
        !(HttpMethods.IsGet(method) || HttpMethods.IsHead(method) || HttpMethods.IsOptions(method) || HttpMethods.IsTrace(method));

    /// <summary>The origin of <paramref name="url"/> as a browser writes it in <c>Origin</c>: scheme, host, and the port unless it is the default.</summary>
    public static string Of(Uri url) => url.GetLeftPart(UriPartial.Authority).ToLowerInvariant();

    /// <summary>
    /// Null when the request may change state; otherwise why not, in words for the refusal. A request with neither
    /// header is not from a browser (scripts, curl, other services), so it carries no cookies a page could borrow.
    /// </summary>
    public static string? Refusal(HttpRequest request, string portalOrigin)
    {
        var origins = request.Headers.Origin;
        if (origins.Count > 1) return "it names more than one origin";
        if (origins.Count == 1)
        {
            var origin = origins[0] ?? "";
            if (string.Equals(origin, portalOrigin, StringComparison.OrdinalIgnoreCase)) return null;
            return origin == "null"
                ? "it comes from a page with no origin of its own (a sandboxed frame, a file, or a redirect from another site)"
                : $"it comes from {origin}, not from the portal ({portalOrigin})";
        }

        var sites = request.Headers[FetchSiteHeader];
        if (sites.Count == 0) return null;
        // "none": the user's own navigation (typed, bookmarked), which no page started.
        return sites.Count == 1 && sites[0] is "same-origin" or "none" ? null : $"the browser says it comes from a {sites} page, not from the portal";
    }
}
