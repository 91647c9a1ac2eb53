using System.Net;

namespace DataWorkspace.Proxy;

/// <summary>The few pages the proxy answers itself (errors, unknown hosts), plain and self-contained.</summary>
public static class ProxyPages
{
    public static Task WriteAsync(HttpResponse response, string title, string message, (string Text, string Href)? action = null)
    {
        response.ContentType = "text/html; charset=utf-8";
        response.Headers.CacheControl = "no-store";
        var link = action is { } a ? $"<p><a href=\"{WebUtility.HtmlEncode(a.Href)}\">{WebUtility.HtmlEncode(a.Text)}</a></p>" : "";
        return response.WriteAsync($"""
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>{WebUtility.HtmlEncode(title)} - Data Workspace</title>
            <meta name="viewport" content="width=device-width, initial-scale=1"></head>
            <body>
            <h1>{WebUtility.HtmlEncode(title)}</h1><p>{WebUtility.HtmlEncode(message)}</p>{link}
            </body></html>
            """);
    }
}
