using DataWorkspace.Contracts;
using DataWorkspace.DataProtection;
using DataWorkspace.Proxy;
using DataWorkspace.Proxy.Forwarding;
using DataWorkspace.Proxy.Schema;
using DataWorkspace.Proxy.SignIn;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.Options;

if (args.Contains(ProxySchema.Command)) return await ProxySchema.MigrateAsync(args);

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.WebHost.ConfigureKestrel(kestrel => kestrel.AddServerHeader = false);
// Only the portal's requests are traced. Tool and visualisation traffic (a notebook polls its kernels, a dashboard
// fetches tiles) would bury the portal's traces in the dashboard and make every forwarded request dearer; it is still
// counted in the request metrics, and launches and stops are traced in the web app.
builder.Services.AddOptions<OpenTelemetry.Instrumentation.AspNetCore.AspNetCoreTraceInstrumentationOptions>()
    .Configure<IOptions<ProxyOptions>>((tracing, proxy) =>
    {
        var earlier = tracing.Filter;
        tracing.Filter = context => string.Equals(context.Request.Host.Host, proxy.Value.RootDomain, StringComparison.OrdinalIgnoreCase) && (earlier?.Invoke(context) ?? true);
    });
builder.AddIdentityTokens();

builder.Services.AddOptions<ProxyOptions>().Bind(builder.Configuration.GetSection(ProxyOptions.Section))
    .ValidateDataAnnotations().ValidateOnStart();
builder.Services.AddOptions<OidcOptions>().Bind(builder.Configuration.GetSection(OidcOptions.Section))
    .ValidateDataAnnotations().ValidateOnStart();

// Sessions must survive restarts and be readable by every replica: they and their keys live in the proxy's own
// schema of the catalogue database (see ProxySchema).
builder.AddNpgsqlDataSource("catalogue");
builder.Services.AddDataProtection().SetApplicationName("DataWorkspace.Proxy").PersistKeysToCatalogue(ProxySchema.DataProtectionKeys);

builder.Services.AddPlatformSignIn();
builder.Services.AddSingleton(TimeProvider.System);
builder.Services.AddSingleton<DataWorkspace.Proxy.ClientAddress.IpPolicy>();
builder.Services.AddHttpForwarder();
builder.Services.AddSingleton(_ => PortalEntry.CreateWebClient());
builder.Services.AddSingleton<PortalEntry>();
builder.Services.AddSingleton<DataWorkspace.Proxy.Tools.ToolsClient>();
builder.Services.AddSingleton<DataWorkspace.Proxy.Tools.ToolEntry>();
builder.Services.AddSingleton<ToolSignIn>();
builder.Services.AddSingleton<DataWorkspace.Proxy.Tools.ToolActivity>();
builder.Services.AddHostedService(services => services.GetRequiredService<DataWorkspace.Proxy.Tools.ToolActivity>());

var app = builder.Build();
var proxyOptions = app.Services.GetRequiredService<IOptions<ProxyOptions>>().Value;
var rootDomain = proxyOptions.RootDomain;

// Authentication runs in the portal's branch only (tool hosts sign requests in through ToolSignIn). WebApplication adds
// its own UseAuthentication in front of everything unless the app's builder says it has one, and a branch's call does
// not say so: without this, every request would be authenticated twice, and a tool's own /auth/callback would get the
// platform's sign-in flow. The property is the one UseAuthentication itself sets.
((IApplicationBuilder)app).Properties["__AuthenticationMiddlewareSet"] = true;

app.UseSecurityHeaders(proxyOptions);
// The proxy's own pages' stylesheet, on every host and before any sign-in: a refusal's page needs it too.
app.UsePortalStylesheet();

// The sessions table is in the catalogue database: while it is down, say so rather than fail with a bare 500.
app.Use(async (context, next) =>
{
    try
    {
        await next(context);
    }
    catch (SessionsUnavailableException unavailable) when (!context.Response.HasStarted)
    {
        context.RequestServices.GetRequiredService<ILogger<SessionStore>>().LogWarning(unavailable.InnerException, "Sessions unavailable");
        context.Response.Clear();
        context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        context.Response.Headers.RetryAfter = "30";
        await ProxyPages.WriteAsync(context.Response, "The platform is not answering", unavailable.Message, ("Try again", context.Request.PathBase + context.Request.Path + context.Request.QueryString));
    }
});

// Load balancers and ECS call this on whatever host name they use, and must not need a session.
app.MapGet("/healthcheck", () => TypedResults.Text("OK"));

app.MapWhen(context => RequestHost.Name(context.Request.Host).Equals(rootDomain, StringComparison.OrdinalIgnoreCase)
    && !context.Request.Path.Equals("/healthcheck", StringComparison.OrdinalIgnoreCase), portal =>
{
    portal.UseAuthentication();
    portal.Run(context => context.RequestServices.GetRequiredService<PortalEntry>().HandleAsync(context));
});

// A tool's host, one label under the root domain: the owner's tool, started on first visit. The tool entry signs the
// request in itself (see ToolSignIn): the sign-in flow's handlers belong to the portal's host.
var toolSuffix = "." + rootDomain;
app.MapWhen(context => !RequestHost.LabelUnder(context.Request.Host, toolSuffix).IsEmpty, tool =>
{
    var entry = tool.ApplicationServices.GetRequiredService<DataWorkspace.Proxy.Tools.ToolEntry>();
    tool.Run(context => entry.HandleAsync(context, RequestHost.LabelUnder(context.Request.Host, toolSuffix)));
});

// Routing only for what the branches above did not take: a tool's requests (most of the proxy's traffic) are not
// matched against the operator endpoints first (WebApplication would otherwise put routing at the very start).
app.UseRouting();
app.MapDefaultEndpoints();
app.MapFallback(async context =>
{
    context.Response.StatusCode = StatusCodes.Status404NotFound;
    await ProxyPages.WriteAsync(context.Response, "Unknown address",
        $"Data Workspace does not serve '{context.Request.Host.Host}'. The portal is at {proxyOptions.PortalOrigin(context.Request.Host.Port)}/.",
        ("Go to the portal", proxyOptions.PortalOrigin(context.Request.Host.Port) + "/"));
});

app.Run();
return 0;
