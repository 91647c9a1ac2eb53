using System.Net;
using Microsoft.Extensions.Options;

namespace DataWorkspace.Proxy;

/// <summary>
/// The pages the proxy answers itself (errors, unknown hosts, a tool's progress) in the portal's GOV.UK styles: its
/// header, a heading, what went wrong and what to do, and a way back to the portal. No script, and the stylesheet is
/// the proxy's own copy (<see cref="PortalStylesheet"/>), so they need nothing of the web app.
/// </summary>
public static class ProxyPages
{
    public static Task WriteAsync(HttpResponse response, string title, string message, (string Text, string Href)? action = null)
    {
        response.ContentType = "text/html; charset=utf-8";
        response.Headers.CacheControl = "no-store";
        var portal = PortalHome(response.HttpContext);
        var framed = IsFramed(response.HttpContext.Request);
        var links = action is { } a ? Link(a.Text, SameSite(a.Href), portal) : "";
        if (action?.Href != portal) links += Link("Go to the Data Workspace portal", portal, portal);
        return response.WriteAsync(Page(title, portal, $"""
            <div class="govuk-grid-row"><div class="govuk-grid-column-two-thirds">
            <h1 class="govuk-heading-l">{WebUtility.HtmlEncode(title)}</h1>
            <p class="govuk-body" data-testid="proxy-message">{WebUtility.HtmlEncode(message)}</p>
            {links}
            </div></div>
            """, framed: framed));
    }

    /// <summary>
    /// A whole page: the portal's header, <paramref name="main"/> as the page's main content, and its footer; only
    /// the main content when <paramref name="framed"/> (a wrapped tool's frame, under the portal's own header).
    /// </summary>
    public static string Page(string title, string portalHome, string main, string head = "", bool framed = false) => $"""
        <!DOCTYPE html>
        <html lang="en" class="govuk-template">
        <head><meta charset="utf-8"><title>{WebUtility.HtmlEncode(title)} - Data Workspace</title>
        <meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
        <meta name="theme-color" content="#0b0c0c">
        <link rel="stylesheet" href="{PortalStylesheet.Href}">{head}</head>
        <body class="govuk-template__body">
        {(framed ? "" : Header(portalHome))}
        <div class="govuk-width-container">
        <main class="govuk-main-wrapper" id="main-content">
        {main}
        </main>
        </div>
        {(framed ? "" : Footer)}
        </body></html>
        """;

    private static string Header(string portalHome) => $"""
        <a href="#main-content" class="govuk-skip-link">Skip to main content</a>
        <header class="govuk-template__header">
        <div class="govuk-generic-header" data-testid="header">
        <div class="govuk-generic-header__container govuk-width-container dw-header">
        <div class="govuk-generic-header__logo">
        <a href="{WebUtility.HtmlEncode(portalHome)}" class="govuk-generic-header__homepage-link">Data Workspace</a>
        </div>
        </div>
        </div>
        </header>
        """;

    private const string Footer = """
        <footer class="govuk-footer">
        <div class="govuk-width-container"><div class="govuk-footer__meta"><div class="govuk-footer__meta-item govuk-footer__meta-item--grow">
        <span class="govuk-footer__licence-description">Data Workspace for .NET</span>
        </div></div></div>
        </footer>
        """;

    /// <summary>Whether the browser asked for the page to show in a frame (a wrapped tool's, in the portal).</summary>
    public static bool IsFramed(HttpRequest request) => request.Headers["Sec-Fetch-Dest"] == "iframe";

    /// <summary>The portal's home page as a link from this request's host: its path on the portal, its address elsewhere.</summary>
    public static string PortalHome(HttpContext context)
    {
        if (context.RequestServices?.GetService<IOptions<ProxyOptions>>()?.Value is not { RootDomain.Length: > 0 } options) return "/";
        return string.Equals(context.Request.Host.Host, options.RootDomain, StringComparison.OrdinalIgnoreCase)
            ? "/"
            : options.PortalOrigin(context.Request.Host.Port) + "/";
    }

    // A path the browser asked for comes back as a link ("Try again"): "//elsewhere.example/x" or "/\elsewhere" would
    // leave the site, so leading slashes and backslashes become one slash.
    private static string SameSite(string href) =>
        href.Length > 1 && href[0] is '/' or '\\' && href[1] is '/' or '\\' ? "/" + href.TrimStart('/', '\\') : href;

    // A link to the portal opens in the whole window: in a wrapped tool's frame, the portal refuses to be framed.
    private static string Link(string text, string href, string portalHome) =>
        $"<p class=\"govuk-body\"><a class=\"govuk-link\" href=\"{WebUtility.HtmlEncode(href)}\"{(href.StartsWith(portalHome, StringComparison.Ordinal) ? " target=\"_top\"" : "")}>{WebUtility.HtmlEncode(text)}</a></p>";
}
