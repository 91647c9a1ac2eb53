using DataWorkspace.DataProtection;
using DataWorkspace.Web.Access;
using DataWorkspace.Web.Audit;
using DataWorkspace.Web.Notifications;
using DataWorkspace.Web.ReferenceData;
using DataWorkspace.Web.ToolsAccess;
using DataWorkspace.Web.Catalogue;
using DataWorkspace.Web.Data;
using DataWorkspace.Web.DataAccess;
using DataWorkspace.Web.Documentation;
using DataWorkspace.Web.Explorer;
using DataWorkspace.Web.Health;
using DataWorkspace.Web.Pages;
using DataWorkspace.Web.Storage;
using DataWorkspace.Web.Tools;
using DataWorkspace.Web.Identity;
using DataWorkspace.Web.MachineApi;
using DataWorkspace.Web.Security;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;

if (args.Contains(DatabaseMigrator.Command)) return await DatabaseMigrator.RunAsync(args);

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddIdentityTokens();

// Statements run often (the search's reader state, EF's lookups) are prepared once per connection, not parsed and
// planned on every call.
builder.AddNpgsqlDataSource("catalogue", configureDataSourceBuilder: dataSource =>
    (dataSource.ConnectionStringBuilder.MaxAutoPrepare, dataSource.ConnectionStringBuilder.AutoPrepareMinUsages) = (64, 3));
builder.Services.AddSingleton<RoleSyncSignal>();
builder.Services.AddSingleton<AccessChangeInterceptor>();
builder.Services.AddDbContextPool<CatalogueDbContext>((services, options) =>
    options.UseCatalogue(services.GetRequiredService<Npgsql.NpgsqlDataSource>()).AddInterceptors(services.GetRequiredService<AccessChangeInterceptor>()));
builder.EnrichNpgsqlDbContext<CatalogueDbContext>();
builder.AddKeyedNpgsqlDataSource(DatasetsDatabase.ConnectionName);

builder.Services.AddDataProtection().SetApplicationName("DataWorkspace.Web").PersistKeysToCatalogue();

builder.Services.AddAuthentication(ProxyIdentityHandler.SchemeName)
    .AddScheme<AuthenticationSchemeOptions, ProxyIdentityHandler>(ProxyIdentityHandler.SchemeName, null);
builder.Services.AddAuthorizationBuilder()
    .SetFallbackPolicy(new AuthorizationPolicyBuilder().RequireAuthenticatedUser().Build())
    .AddPolicy(AdminOptions.Policy, policy => policy.RequireRole(DataWorkspace.Contracts.PlatformIdentity.AdminRole));
builder.AddMachineApi();
builder.Services.AddApiDocuments();

if (builder.Configuration["Clock:OffsetFile"] is { Length: > 0 } offsetFile)
    builder.Services.AddSingleton<TimeProvider>(new DataWorkspace.Web.Time.FileOffsetTimeProvider(offsetFile));
else
    builder.Services.AddSingleton(TimeProvider.System);

builder.Services.AddMemoryCache();
builder.Services.AddHttpContextAccessor();
builder.Services.Configure<AdminOptions>(builder.Configuration.GetSection(AdminOptions.Section));
builder.Services.AddScoped<AuditLog>();
builder.Services.AddScoped<Outbox>();
builder.Services.AddSingleton<PortalLinks>();
builder.Services.AddScoped<AccessRequests>();
builder.Services.AddScoped<ToolsAccessService>();
builder.Services.AddScoped<ReferenceDataService>();
builder.Services.AddSingleton<ReferenceMirror>();
builder.Services.AddOptions<EmailOptions>().Bind(builder.Configuration.GetSection(EmailOptions.Section)).ValidateDataAnnotations();
if (builder.Configuration["Email:Smtp:Host"] is { Length: > 0 })
    builder.Services.AddSingleton<IEmailSender, SmtpEmailSender>();
else
    builder.Services.AddSingleton<IEmailSender, LogEmailSender>();
builder.Services.AddSingleton<OutboxDispatcher>();
builder.Services.AddHostedService(services => services.GetRequiredService<OutboxDispatcher>());
builder.Services.Configure<ExpiryOptions>(builder.Configuration.GetSection(ExpiryOptions.Section));
builder.Services.AddSingleton<ExpirySweeper>();
builder.Services.AddHostedService(services => services.GetRequiredService<ExpirySweeper>());
builder.Services.AddOptions<DataAccessOptions>().Bind(builder.Configuration.GetSection(DataAccessOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
builder.Services.AddSingleton<RoleSync>();
builder.Services.AddSingleton<DatabaseLogins>();
builder.Services.AddSingleton<DataAccessJob>();
builder.Services.AddHostedService(services => services.GetRequiredService<DataAccessJob>());
builder.Services.AddSingleton<IDatabaseLoginHolders, DataWorkspace.Web.Tools.ToolLoginHolders>();
builder.Services.AddSingleton<DataWorkspace.Web.Explorer.QueryRunner>();
builder.Services.AddScoped<UserDirectory>();
builder.Services.AddUserAccounts();
builder.Services.AddScoped<DatasetAccess>();
builder.Services.AddScoped<CatalogueSearch>();
builder.Services.AddSingleton<CatalogueSnapshots>();
builder.Services.AddSingleton<DatasetsDatabase>();
builder.AddStorage();
builder.Services.AddOptions<DataWorkspace.Web.Tools.ServiceDiscoveryOptions>().Bind(builder.Configuration.GetSection(DataWorkspace.Web.Tools.ServiceDiscoveryOptions.Section));
builder.Services.AddOptions<DataWorkspace.Web.Tools.ToolsOptions>().Bind(builder.Configuration.GetSection(DataWorkspace.Web.Tools.ToolsOptions.Section))
    .ValidateDataAnnotations().ValidateOnStart();
builder.Services.AddScoped<DataWorkspace.Web.Tools.ToolTemplates>();
if (builder.Configuration["Tools:Launcher"] == "Ecs")
{
    // Tools as Fargate tasks: the cluster, network and roles from Tools:Ecs; credentials from the AWS default chain
    // (the web app's task role when deployed).
    builder.Services.AddOptions<DataWorkspace.Web.Tools.Ecs.EcsOptions>().Bind(builder.Configuration.GetSection(DataWorkspace.Web.Tools.Ecs.EcsOptions.Section))
        .ValidateDataAnnotations().ValidateOnStart();
    builder.Services.AddSingleton(services => new DataWorkspace.Web.Tools.Ecs.EcsClient(
        services.GetRequiredService<Microsoft.Extensions.Options.IOptions<DataWorkspace.Web.Tools.Ecs.EcsOptions>>().Value,
        Amazon.Runtime.Credentials.DefaultAWSCredentialsIdentityResolver.GetCredentials()));
    builder.Services.AddSingleton<DataWorkspace.Web.Tools.ILauncher, DataWorkspace.Web.Tools.Ecs.EcsLauncher>();
}
else
{
    builder.Services.AddSingleton<DataWorkspace.Web.Tools.LocalToolServices>();
    builder.Services.AddHostedService(services => services.GetRequiredService<DataWorkspace.Web.Tools.LocalToolServices>());
    builder.Services.AddSingleton<DataWorkspace.Web.Tools.LocalLauncher>();
    builder.Services.AddSingleton<DataWorkspace.Web.Tools.ILauncher>(services => services.GetRequiredService<DataWorkspace.Web.Tools.LocalLauncher>());
}
builder.Services.AddSingleton<DataWorkspace.Web.Tools.ToolInstanceRecords>();
builder.Services.AddSingleton<DataWorkspace.Web.Tools.ToolSpawner>();
builder.Services.AddSingleton<DataWorkspace.Web.Tools.VisualisationAccess>();
builder.Services.AddSingleton<DataWorkspace.Web.Tools.ToolList>();
builder.Services.AddSingleton<DataWorkspace.Web.Tools.ToolHostStates>();
builder.Services.AddSingleton<DataWorkspace.Web.Tools.ToolInstances>();
// What a deactivation ends, in this order: the user's tools (which hold database connections), then their logins.
builder.Services.AddSingleton<IDeactivationStep>(services => services.GetRequiredService<DataWorkspace.Web.Tools.ToolInstances>());
builder.Services.AddSingleton<IDeactivationStep>(services => services.GetRequiredService<DatabaseLogins>());
builder.Services.AddHostedService<DataWorkspace.Web.Tools.LocalToolsReconciler>();
builder.Services.AddSingleton<DataWorkspace.Web.Tools.ToolCuller>();
builder.Services.AddHostedService(services => services.GetRequiredService<DataWorkspace.Web.Tools.ToolCuller>());
builder.Services.AddRazorPages(pages => pages.Conventions.AuthorizeFolder("/Admin", AdminOptions.Policy));
builder.Services.AddProblemDetails();
builder.AddRequestChecks();

var app = builder.Build();

app.UseStatusCodePagesWithReExecute("/error/{0}");
app.UseStaticFiles(new StaticFileOptions
{
    // Static assets are public: the sign-in flow and error pages need them before a user is known.
    OnPrepareResponse = context => context.Context.Response.Headers.CacheControl = "public,max-age=3600",
});
app.UseAuthentication();
app.UseAuthorization();
app.UseRequestChecks();
app.Use(async (context, next) =>
{
    // Users only: a machine API client is configured, not a person to record.
    if (context.User.Identity is { IsAuthenticated: true, AuthenticationType: ProxyIdentityHandler.SchemeName })
        await context.RequestServices.GetRequiredService<UserDirectory>().RecordAsync(context.User, context.RequestAborted);
    await next(context);
});
app.UseWholePages();

app.MapDefaultEndpoints();
app.MapHealthcheck();
app.MapRazorPages();
app.MapCatalogueApi();
app.MapAuditExport();
app.MapMachineApi();
app.MapDownloads();
app.MapExplorerApi();
app.MapToolsApi();
app.MapInternalToolsApi();
app.MapInternalAccountsApi();
app.MapServiceDiscoveryApi();
app.MapVisualisationsApi();
app.MapApiDocuments();

await app.RunAsync();
return 0;
