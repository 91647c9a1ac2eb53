namespace DataWorkspace.Web.Audit;

public static class AuditSetup
{
    public static WebApplicationBuilder AddAudit(this WebApplicationBuilder builder)
    {
        builder.Services.AddScoped<AuditLog>();
        return builder;
    }

    public static WebApplication MapAudit(this WebApplication app)
    {
        app.MapAuditExport();
        return app;
    }
}
