namespace DataWorkspace.Web.ApiTokens;

public static class ApiTokensSetup
{
    /// <summary>Personal API tokens: made and revoked by their owners, checked for the proxy, and described in the API documents.</summary>
    public static WebApplicationBuilder AddApiTokens(this WebApplicationBuilder builder)
    {
        builder.Services.AddScoped<ApiTokenService>();
        builder.Services.AddScoped<Users.IDeactivationStep>(services => services.GetRequiredService<ApiTokenService>());
        builder.Services.AddApiTokenDocumentation();
        return builder;
    }

    public static WebApplication MapApiTokens(this WebApplication app)
    {
        app.MapApiTokensApi();
        return app;
    }
}
