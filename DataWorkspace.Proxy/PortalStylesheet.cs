using System.IO.Compression;
using System.Security.Cryptography;

namespace DataWorkspace.Proxy;

/// <summary>
/// The portal's compiled stylesheet (GOV.UK Frontend and the portal's own styles), a copy built into the proxy from the
/// web app's build output, for the proxy's own pages. It is served by the proxy on every host, so those pages look
/// right when the web app is down, and come from their own origin: the policy's <c>style-src 'self'</c> covers it.
/// </summary>
public static class PortalStylesheet
{
    private const string ResourceName = "portal/site.css";

    private static readonly byte[] Css = Load();
    private static readonly byte[] Gzipped = Gzip(Css);

    /// <summary>Changes with the stylesheet's content, so browsers may keep a copy for as long as they like.</summary>
    public static readonly string Version = Convert.ToHexStringLower(SHA256.HashData(Css))[..16];

    /// <summary>Its path on any host the proxy answers (a tool's host included: the proxy's own prefix there).</summary>
    public const string Path = "/_dataworkspace/site.css";

    /// <summary>Its address for a page to link: the path with the version.</summary>
    public static readonly string Href = $"{Path}?v={Version}";

    public static IApplicationBuilder UsePortalStylesheet(this IApplicationBuilder app) => app.Use((context, next) =>
        context.Request.Path.Equals(Path, StringComparison.Ordinal) && (HttpMethods.IsGet(context.Request.Method) || HttpMethods.IsHead(context.Request.Method))
            ? WriteAsync(context)
            : next(context));

    private static async Task WriteAsync(HttpContext context)
    {
        var response = context.Response;
        response.ContentType = "text/css; charset=utf-8";
        response.Headers.Vary = "Accept-Encoding";
        // A versioned address never changes; any other (an old page's) is checked again each time.
        response.Headers.CacheControl = context.Request.Query["v"] == Version ? "public, max-age=31536000, immutable" : "no-cache";
        var gzip = context.Request.Headers.AcceptEncoding.ToString().Contains("gzip", StringComparison.OrdinalIgnoreCase);
        var body = gzip ? Gzipped : Css;
        if (gzip) response.Headers.ContentEncoding = "gzip";
        response.ContentLength = body.Length;
        if (HttpMethods.IsHead(context.Request.Method)) return;
        await response.Body.WriteAsync(body, context.RequestAborted);
    }

    private static byte[] Load()
    {
        using var stream = typeof(PortalStylesheet).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"The proxy was built without the portal's stylesheet ({ResourceName}): build DataWorkspace.Web's front-end (npm run build) and then the proxy.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    private static byte[] Gzip(byte[] css)
    {
        using var compressed = new MemoryStream();
        using (var gzip = new GZipStream(compressed, CompressionLevel.SmallestSize)) gzip.Write(css);
        return compressed.ToArray();
    }
}
