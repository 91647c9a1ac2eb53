namespace DataWorkspace.Proxy;

/// <summary>Security headers on every response, set last so an upstream cannot weaken them.</summary>
public static class SecurityHeaders
{
    /// <summary>
    /// The portal serves only its own scripts, styles and images, frames only its own tools and visualisations (the
    /// wrapped ones), and may not be framed itself. The files bucket's origins, when there are any, are where the "Your
    /// files" page sends uploads and reads previews from.
    /// </summary>
    public static string PortalContentSecurityPolicy(ProxyOptions options)
    {
        var files = string.Concat(options.AllFilesOrigins.Select(origin => " " + origin));
        return $"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:{files}; font-src 'self'; " +
            $"connect-src 'self'{files}; frame-src 'self' {options.PublicScheme}://*.{options.RootDomain}:*; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";
    }

    /// <summary>Set on a request whose response comes from a tool: the sources allowed to frame it.</summary>
    public const string FrameAncestorsKey = "DataWorkspace.FrameAncestors";

    /// <summary>
    /// Set on a tool host for the proxy's own pages there (progress, errors): the portal's policy, except that the
    /// portal may frame them, since a wrapped tool shows them in its frame.
    /// </summary>
    public const string OwnPageFrameAncestorsKey = "DataWorkspace.OwnPageFrameAncestors";

    public static IApplicationBuilder UseSecurityHeaders(this IApplicationBuilder app, ProxyOptions options)
    {
        var writer = new Writer(options);
        // One callback for every response, given the context as its state: no closure made per request.
        Func<object, Task> onStarting = writer.Apply;
        return app.Use((context, next) =>
        {
            context.Response.OnStarting(onStarting, context);
            return next(context);
        });
    }

    private sealed class Writer(ProxyOptions options)
    {
        private readonly string? hsts = options.IsSecure ? "max-age=31536000; includeSubDomains" : null;
        private readonly string portalPolicy = PortalContentSecurityPolicy(options);

        // The portal's policy up to its frame-ancestors, for the proxy's own pages on tool hosts to end differently.
        private string FramedPolicy => field ??= portalPolicy[..portalPolicy.LastIndexOf("frame-ancestors", StringComparison.Ordinal)];

        // The policies for the frame-ancestors sources seen last: every request of a deployment gives the same ones.
        // Each is one object, replaced whole, so a reader never sees one request's sources with another's policy.
        private Memoized? lastToolPolicy;
        private Memoized? lastOwnPagePolicy;

        public Task Apply(object state)
        {
            var context = (HttpContext)state;
            var headers = context.Response.Headers;
            headers["X-Content-Type-Options"] = "nosniff";
            headers["Referrer-Policy"] = "same-origin";
            if (context.Items[FrameAncestorsKey] is string frameAncestors)
            {
                // A tool's own response: its own policy stands (tools need their scripts and websockets), and a
                // second policy, which browsers enforce as well, says who may frame it.
                headers.Remove("X-Frame-Options");
                headers.Append("Content-Security-Policy", ToolPolicy(frameAncestors));
            }
            else if (context.Items[OwnPageFrameAncestorsKey] is string ownPageAncestors)
            {
                headers.Remove("X-Frame-Options");
                headers.ContentSecurityPolicy = OwnPagePolicy(ownPageAncestors);
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
        }

        private string ToolPolicy(string sources)
        {
            if (lastToolPolicy is { } seen && seen.Sources == sources) return seen.Policy;
            return (lastToolPolicy = new Memoized(sources, "frame-ancestors " + sources)).Policy;
        }

        private string OwnPagePolicy(string sources)
        {
            if (lastOwnPagePolicy is { } seen && seen.Sources == sources) return seen.Policy;
            return (lastOwnPagePolicy = new Memoized(sources, FramedPolicy + "frame-ancestors " + sources)).Policy;
        }

        private sealed record Memoized(string Sources, string Policy);
    }
}
