using DataWorkspace.Contracts;
using DataWorkspace.TestSupport;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;

namespace DataWorkspace.Proxy.Tests;

/// <summary>
/// The web app's internal accounts API as a stand-in answers it, on a loopback port, refusing anyone without the
/// proxy's service identity: what the proxy reported, and the users it counts as deactivated. Also the tools API's
/// report of a tool that died, which marks it stopped.
/// </summary>
public sealed class StandInWebApp : IAsyncDisposable
{
    private readonly WebApplication app;

    private StandInWebApp(WebApplication app) => this.app = app;

    public List<SignInReport> SignIns { get; } = [];

    public HashSet<string> Deactivated { get; } = [];

    /// <summary>The tools the proxy reported dead: the host and the report (the instance, and why).</summary>
    public List<(string Host, ToolDiedRequest Report)> Died { get; } = [];

    public string Url => app.Urls.Single();

    public static async Task<StandInWebApp> StartAsync(IdentitySigningKey key)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls($"http://127.0.0.1:{Ports.Free()}");
        var web = new StandInWebApp(builder.Build());
        var tokens = new IdentityToken(key, TimeProvider.System);
        async ValueTask<object?> OnlyTheProxy(EndpointFilterInvocationContext context, EndpointFilterDelegate next) =>
            tokens.VerifyService(context.HttpContext.Request.Headers[IdentityHeaders.ServiceIdentity].ToString()).Identity is null
                ? Results.StatusCode(StatusCodes.Status403Forbidden)
                : await next(context);
        var api = web.app.MapGroup(InternalAccounts.Prefix).AddEndpointFilter(OnlyTheProxy);
        api.MapPost(InternalAccounts.SignIns, (SignInReport report) =>
        {
            lock (web.SignIns) web.SignIns.Add(report);
            return Results.Ok(new SignInDecision(web.Deactivated.Contains(report.UserId)));
        });
        api.MapPost(InternalAccounts.Deactivated, (DeactivatedUsersQuery query) =>
            Results.Ok(new DeactivatedUsersAnswer([.. query.UserIds.Where(web.Deactivated.Contains)])));
        web.app.MapGroup("/internal/v1/tools").AddEndpointFilter(OnlyTheProxy).MapPost("/{host}/died", (string host, ToolDiedRequest report) =>
        {
            lock (web.Died) web.Died.Add((host, report));
            return Results.Ok(new ToolHostState(host, "Sample app", ToolInstanceState.Stopped, report.InstanceId, null, null, null,
                $"it stopped answering ({report.Reason})", ToolStopCause.StoppedAnswering, null, []));
        });
        await web.app.StartAsync(TestContext.Current.CancellationToken);
        return web;
    }

    public ValueTask DisposeAsync() => app.DisposeAsync();
}
