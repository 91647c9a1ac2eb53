using DataWorkspace.Web.DatabaseAccess;
using DataWorkspace.Web.Storage;
using DataWorkspace.Web.Tools.Ecs;
using DataWorkspace.Web.Users;
using Microsoft.Extensions.Options;

namespace DataWorkspace.Web.Tools;

public static class ToolsSetup
{
    /// <summary>
    /// Tools and visualisations: their templates, the launcher (ECS tasks when <c>Tools:Launcher</c> is <c>Ecs</c>,
    /// local processes otherwise), the instances and their database logins, S3 credentials and clean-up.
    /// </summary>
    public static WebApplicationBuilder AddTools(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<ServiceDiscoveryOptions>().Bind(builder.Configuration.GetSection(ServiceDiscoveryOptions.Section));
        builder.Services.AddOptions<ToolsOptions>().Bind(builder.Configuration.GetSection(ToolsOptions.Section))
            .ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddScoped<ToolTemplates>();
        builder.Services.AddSingleton<ToolCredentials>();
        builder.Services.AddSingleton<ToolStorage>();
        if (builder.Configuration["Tools:Launcher"] == "Ecs")
        {
            // Tools as Fargate tasks: the cluster, network and roles from Tools:Ecs; credentials from the AWS default chain
            // (the web app's task role when deployed).
            builder.Services.AddOptions<EcsOptions>().Bind(builder.Configuration.GetSection(EcsOptions.Section))
                .ValidateDataAnnotations().ValidateOnStart();
            builder.Services.AddSingleton(services => new EcsClient(
                services.GetRequiredService<IOptions<EcsOptions>>().Value, PlatformAwsCredentials.Instance));
            builder.Services.AddSingleton<ILauncher, EcsLauncher>();
        }
        else
        {
            builder.Services.AddSingleton<LocalToolServices>();
            builder.Services.AddHostedService(services => services.GetRequiredService<LocalToolServices>());
            builder.Services.AddSingleton<LocalSidecars>();
            builder.Services.AddSingleton<LocalLauncher>();
            builder.Services.AddSingleton<ILauncher>(services => services.GetRequiredService<LocalLauncher>());
        }

        builder.Services.AddSingleton<ToolInstanceRecords>();
        builder.Services.AddSingleton<ToolsInstruments>();
        builder.Services.AddHostedService(services => services.GetRequiredService<ToolsInstruments>());
        builder.Services.AddSingleton<ToolSpawner>();
        builder.Services.AddSingleton<VisualisationAccess>();
        builder.Services.AddSingleton<ToolList>();
        builder.Services.AddSingleton<ToolHostStates>();
        builder.Services.AddSingleton<ToolInstances>();
        builder.Services.AddSingleton<IDeactivationStep>(services => services.GetRequiredService<ToolInstances>());
        builder.Services.AddSingleton<IDatabaseLoginHolders, ToolLoginHolders>();
        builder.Services.AddScoped<IDatasetRoleHolders, VisualisationRoles>();
        builder.Services.AddHostedService<LocalToolsReconciler>();
        builder.Services.AddSingleton<ToolCuller>();
        builder.Services.AddHostedService(services => services.GetRequiredService<ToolCuller>());
        return builder;
    }

    public static WebApplication MapTools(this WebApplication app)
    {
        app.MapToolsApi();
        app.MapInternalToolsApi();
        app.MapServiceDiscoveryApi();
        app.MapVisualisationsApi();
        return app;
    }
}
