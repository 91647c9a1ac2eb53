namespace DataWorkspace.Web.Security;

/// <summary>
/// Endpoint metadata: this route is called by other systems that sign each request themselves (Hawk, the proxy's
/// service identity, Prometheus's basic auth), never by a page in a browser, so the origin guard leaves it alone.
/// Every other route is guarded unless it says this on purpose.
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method)]
public sealed class NotForBrowsersAttribute : Attribute;

public static class NotForBrowsersExtensions
{
    /// <summary>Marks the route (or every route of a group) as <see cref="NotForBrowsersAttribute"/>.</summary>
    public static TBuilder NotForBrowsers<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new NotForBrowsersAttribute());
}
