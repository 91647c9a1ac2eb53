namespace DataWorkspace.Proxy;

/// <summary>Security headers on every response, set last so an upstream cannot weaken them.</summary>
public static class SecurityHeaders
{
    /// <summary>The portal serves only its own scripts, styles and images, and may not be framed.</summary>
    public const string PortalContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; " +
        "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

    /// <summary>Set on a request whose response comes from a tool: the sources allowed to frame it.</summary>
    public const string FrameAncestorsKey = "DataWorkspace.FrameAncestors";

    public static IApplicationBuilder UseSecurityHeaders(this IApplicationBuilder app, ProxyOptions options)
    {
        var hsts = options.IsSecure ? "max-age=31536000; includeSubDomains" : null;
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
                else
                {
                    headers["X-Frame-Options"] = "DENY";
                    headers["Cross-Origin-Opener-Policy"] = "same-origin";
                    headers.ContentSecurityPolicy = PortalContentSecurityPolicy;
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
