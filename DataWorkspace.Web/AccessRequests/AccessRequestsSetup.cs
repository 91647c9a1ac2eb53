using DataWorkspace.Web.Catalogue;

namespace DataWorkspace.Web.AccessRequests;

public static class AccessRequestsSetup
{
    /// <summary>Asking for and deciding access to datasets, and the sweep that ends access (and tools permissions) when it expires.</summary>
    public static WebApplicationBuilder AddAccessRequests(this WebApplicationBuilder builder)
    {
        builder.Services.AddScoped<AccessRequestService>();
        builder.Services.AddScoped<IPendingAccessRequests>(services => services.GetRequiredService<AccessRequestService>());
        builder.Services.Configure<ExpiryOptions>(builder.Configuration.GetSection(ExpiryOptions.Section));
        builder.Services.AddSingleton<ExpirySweeper>();
        builder.Services.AddHostedService(services => services.GetRequiredService<ExpirySweeper>());
        return builder;
    }

    public static WebApplication MapAccessRequests(this WebApplication app)
    {
        app.MapMyAccessApi();
        return app;
    }
}
