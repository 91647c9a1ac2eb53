namespace DataWorkspace.Web.ToolsAccess;

public static class ToolsAccessSetup
{
    /// <summary>Who may launch tools.</summary>
    public static WebApplicationBuilder AddToolsAccess(this WebApplicationBuilder builder)
    {
        builder.Services.AddScoped<ToolsAccessService>();
        return builder;
    }
}
