using DataWorkspace.Web.Identity;
using Microsoft.AspNetCore.Mvc.Razor;

namespace DataWorkspace.Web.Pages;

public static class PortalPages
{
    /// <summary>Razor Pages from every feature's folder, in the shell's layout; the pages in an Admin folder are for admins.</summary>
    public static WebApplicationBuilder AddPortalPages(this WebApplicationBuilder builder)
    {
        builder.Services.AddRazorPages(pages =>
        {
            // Each feature's pages are in its own folder; Pages/ holds the shell (layout, home, error).
            pages.RootDirectory = "/";
            pages.Conventions.Add(new AdminPages());
        });
        builder.Services.Configure<RazorViewEngineOptions>(views => views.PageViewLocationFormats.Add("/Pages/Shared/{0}.cshtml"));
        return builder;
    }

    /// <summary>The static assets, which browsers may cache.</summary>
    public static IApplicationBuilder UsePublicStaticFiles(this IApplicationBuilder app) => app.UseStaticFiles(new StaticFileOptions
    {
        // Static assets are public: the sign-in flow and error pages need them before a user is known.
        OnPrepareResponse = context => context.Context.Response.Headers.CacheControl = "public,max-age=3600",
    });
}
