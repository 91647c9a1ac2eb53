using DataWorkspace.Web.Users;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace DataWorkspace.Web.DatabaseAccess;

public static class DatabaseAccessSetup
{
    /// <summary>
    /// Users' database roles and logins kept in step with the catalogue (a sync on every change that matters and on a
    /// schedule), a deactivated user's logins dropped, and downloads with the user's own login.
    /// </summary>
    public static WebApplicationBuilder AddDatabaseAccess(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<RoleSyncSignal>();
        builder.Services.AddSingleton<AccessChangeInterceptor>();
        builder.Services.AddSingleton<IInterceptor>(services => services.GetRequiredService<AccessChangeInterceptor>());
        builder.Services.AddOptions<DataAccessOptions>().Bind(builder.Configuration.GetSection(DataAccessOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<RoleSync>();
        builder.Services.AddSingleton<DownloadedBytes>();
        builder.Services.AddSingleton<DatabaseLogins>();
        builder.Services.AddSingleton<IDeactivationStep>(services => services.GetRequiredService<DatabaseLogins>());
        builder.Services.AddSingleton<DataAccessJob>();
        builder.Services.AddHostedService(services => services.GetRequiredService<DataAccessJob>());
        return builder;
    }

    public static WebApplication MapDatabaseAccess(this WebApplication app)
    {
        app.MapDownloads();
        return app;
    }
}
