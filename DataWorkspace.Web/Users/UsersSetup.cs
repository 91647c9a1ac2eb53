using DataWorkspace.Web.Identity;

namespace DataWorkspace.Web.Users;

public static class UsersSetup
{
    /// <summary>The users the portal has seen, and their deactivation.</summary>
    public static WebApplicationBuilder AddUsers(this WebApplicationBuilder builder)
    {
        builder.Services.AddMemoryCache();
        builder.Services.AddScoped<UserDirectory>();
        builder.Services.AddUserAccounts();
        return builder;
    }

    /// <summary>The proxy's internal API for sign-ins and deactivated users.</summary>
    public static WebApplication MapUsers(this WebApplication app)
    {
        app.MapInternalAccountsApi();
        return app;
    }

    /// <summary>Records each signed-in user as their requests arrive (after authentication).</summary>
    public static IApplicationBuilder UseUserDirectory(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        // Users only: a machine API client is configured, not a person to record.
        if (context.User.Identity is { IsAuthenticated: true, AuthenticationType: ProxyIdentityHandler.SchemeName })
            await context.RequestServices.GetRequiredService<UserDirectory>().RecordAsync(context.User, context.RequestAborted);
        await next(context);
    });
}
