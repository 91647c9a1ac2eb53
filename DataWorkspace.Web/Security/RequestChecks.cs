using DataWorkspace.Security;
using DataWorkspace.Web.Portal;

namespace DataWorkspace.Web.Security;

/// <summary>The checks every request to the portal passes before a feature sees it: where it comes from, and what it carries.</summary>
public static class RequestChecks
{
    public static WebApplicationBuilder AddRequestChecks(this WebApplicationBuilder builder)
    {
        builder.Services.ConfigureHttpJsonOptions(options => options.SerializerOptions.Converters.Add(new StorableStrings()));
        // A body or parameter an endpoint cannot bind throws, so InputCheck answers it with the reason (else a bare 400 outside Development).
        builder.Services.Configure<RouteHandlerOptions>(options => options.ThrowOnBadRequest = true);
        // After Razor Pages' own setup, which replaces the conventions, wherever the pages are added.
        builder.Services.PostConfigure<Microsoft.AspNetCore.Mvc.RazorPages.RazorPagesOptions>(options => options.Conventions.ConfigureFilter(new UnhandledPageRequests()));
        return builder;
    }

    /// <summary>After authorization (nobody's body is read before they are known), before the endpoints.</summary>
    public static IApplicationBuilder UseRequestChecks(this IApplicationBuilder app)
    {
        var services = app.ApplicationServices;
        var guard = new OriginGuard(RequestOrigin.Of(services.GetRequiredService<PortalLinks>().Root), services.GetRequiredService<SecurityRefusals>());
        var input = ActivatorUtilities.CreateInstance<InputCheck>(services);
        return app.Use(guard.InvokeAsync).Use(input.InvokeAsync);
    }
}
