using DataWorkspace.DataProtection;
using DataWorkspace.Web.Catalogue;
using DataWorkspace.Web.Data;
using DataWorkspace.Web.Documentation;
using DataWorkspace.Web.Health;
using DataWorkspace.Web.Identity;
using DataWorkspace.Web.MachineApi;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;

if (args.Contains(DatabaseMigrator.Command)) return await DatabaseMigrator.RunAsync(args);

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddIdentityTokens();

builder.AddNpgsqlDataSource("catalogue");
builder.Services.AddDbContextPool<CatalogueDbContext>((services, options) =>
    options.UseCatalogue(services.GetRequiredService<Npgsql.NpgsqlDataSource>()));
builder.EnrichNpgsqlDbContext<CatalogueDbContext>();
builder.AddKeyedNpgsqlDataSource(DatasetsDatabase.ConnectionName);

builder.Services.AddDataProtection().SetApplicationName("DataWorkspace.Web").PersistKeysToCatalogue();

builder.Services.AddAuthentication(ProxyIdentityHandler.SchemeName)
    .AddScheme<AuthenticationSchemeOptions, ProxyIdentityHandler>(ProxyIdentityHandler.SchemeName, null);
builder.Services.AddAuthorizationBuilder()
    .SetFallbackPolicy(new AuthorizationPolicyBuilder().RequireAuthenticatedUser().Build());
builder.AddMachineApi();
builder.Services.AddApiDocuments();

builder.Services.AddMemoryCache();
builder.Services.AddScoped<UserDirectory>();
builder.Services.AddScoped<DatasetAccess>();
builder.Services.AddScoped<CatalogueSearch>();
builder.Services.AddSingleton<CatalogueSnapshots>();
builder.Services.AddSingleton<DatasetsDatabase>();
builder.Services.AddRazorPages();
builder.Services.AddProblemDetails();

var app = builder.Build();

app.UseStatusCodePagesWithReExecute("/error/{0}");
app.UseStaticFiles(new StaticFileOptions
{
    // Static assets are public: the sign-in flow and error pages need them before a user is known.
    OnPrepareResponse = context => context.Context.Response.Headers.CacheControl = "public,max-age=3600",
});
app.UseAuthentication();
app.UseAuthorization();
app.Use(async (context, next) =>
{
    // Users only: a machine API client is configured, not a person to record.
    if (context.User.Identity is { IsAuthenticated: true, AuthenticationType: ProxyIdentityHandler.SchemeName })
        await context.RequestServices.GetRequiredService<UserDirectory>().RecordAsync(context.User, context.RequestAborted);
    await next(context);
});

app.MapDefaultEndpoints();
app.MapHealthcheck();
app.MapRazorPages();
app.MapCatalogueApi();
app.MapMachineApi();
app.MapApiDocuments();

await app.RunAsync();
return 0;
