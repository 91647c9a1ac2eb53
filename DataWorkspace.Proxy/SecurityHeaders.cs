namespace DataWorkspace.Proxy;

/// <summary>Security headers on every response, set last so an upstream cannot weaken them.</summary>
public static class SecurityHeaders
{
    /// <summary>
    /// The portal serves only its own scripts, styles and images, frames only its own tools and visualisations (the
    /// wrapped ones), and may not be framed itself.
    /// </summary>
    public static string PortalContentSecurityPolicy(ProxyOptions options) =>
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; " +
        $"connect-src 'self'; frame-src 'self' {options.PublicScheme}://*.{options.RootDomain}:*; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

    /// <summary>Set on a request whose response comes from a tool: the sources allowed to frame it.</summary>
    public const string FrameAncestorsKey = "DataWorkspace.FrameAncestors";

    /// <summary>
    /// Set on a tool host for the proxy's own pages there (progress, errors): the portal's policy, except that the
    /// portal may frame them, since a wrapped tool shows them in its frame.
    /// </summary>
    public const string OwnPageFrameAncestorsKey = "DataWorkspace.OwnPageFrameAncestors";

    public static IApplicationBuilder UseSecurityHeaders(this IApplicationBuilder app, ProxyOptions options)
    {
        var hsts = options.IsSecure ? "max-age=31536000; includeSubDomains" : null;
        var portalPolicy = PortalContentSecurityPolicy(options);
        var framedPolicy = portalPolicy[..portalPolicy.LastIndexOf("frame-ancestors", StringComparison.Ordinal)];
        return app.Use((context, next) =>
        {
            context.Response.OnStarting(() =>
            {
                var headers = context.Response.Headers;
                headers["X-Content-Type-Options"] = "nosniff";
                headers["Referrer-Policy"] = "same-origin";
                if (context.Items[FrameAncestorsKey] is string frameAncestors)
                {
                    // A tool's own response: its own policy stands (tools need their scripts and websockets), and a
                    // second policy, which browsers enforce as well, says who may frame it.
                    headers.Remove("X-Frame-Options");
                    headers.Append("Content-Security-Policy", $"frame-ancestors {frameAncestors}");
                }
                else if (context.Items[OwnPageFrameAncestorsKey] is string ownPageAncestors)
                {
                    headers.Remove("X-Frame-Options");
                    headers.ContentSecurityPolicy = framedPolicy + "frame-ancestors " + ownPageAncestors;
                }
                else
                {
                    headers["X-Frame-Options"] = "DENY";
                    headers["Cross-Origin-Opener-Policy"] = "same-origin";
                    headers.ContentSecurityPolicy = portalPolicy;
                }

                if (hsts is not null) headers.StrictTransportSecurity = hsts;
                headers.Remove("Server");
                headers.Remove("X-Powered-By");
                return Task.CompletedTask;
            });
            return next(context);
        });
    }
}
