using DataWorkspace.Security;
using DataWorkspace.Web.Notifications;

namespace DataWorkspace.Web.Security;

/// <summary>The checks every request to the portal passes before a feature sees it: where it comes from, and what it carries.</summary>
public static class RequestChecks
{
    public static WebApplicationBuilder AddRequestChecks(this WebApplicationBuilder builder)
    {
        return builder;
    }

    /// <summary>After authorization (nobody's body is read before they are known), before the endpoints.</summary>
    public static IApplicationBuilder UseRequestChecks(this IApplicationBuilder app)
    {
        var services = app.ApplicationServices;
        var guard = new OriginGuard(RequestOrigin.Of(services.GetRequiredService<PortalLinks>().Root), services.GetRequiredService<SecurityRefusals>());
        return app.Use(guard.InvokeAsync);
    }
}
