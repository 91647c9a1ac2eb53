using DataWorkspace.Contracts;
using DataWorkspace.Web.Audit;
using DataWorkspace.Web.Identity;
using DataWorkspace.Web.Security;
using Microsoft.AspNetCore.Http.HttpResults;

namespace DataWorkspace.Web.Tools;

/// <summary>How many active instances an activity report touched.</summary>
public sealed record ToolActivityRecorded(int Updated);

/// <summary>
/// The proxy's API for tool hosts: the state of a host's instance (<see cref="ToolHostState"/>), start it, report it
/// dead. Called with the user's signed identity (whose tool it must be) and the proxy's own service identity; the
/// public entry never forwards <c>/internal</c>, and a user's identity alone is refused.
/// </summary>
public static class InternalToolsApi
{
    public const string Prefix = "/internal";
    private static readonly TimeSpan MaxWait = TimeSpan.FromSeconds(25);

    public static void MapInternalToolsApi(this WebApplication app)
    {
        var api = app.MapGroup(Prefix + "/v1/tools").ForTheProxyOnly("internal tools API");

        // Activity of any instances: the proxy's own report, not a user's request, so only the service identity counts.
        api.MapPost("/activity", async Task<Results<Ok<ToolActivityRecorded>, ProblemHttpResult>> (ToolActivityReport report, ToolInstances tools, CancellationToken cancellationToken) =>
        {
            if (report.Instances is not { Count: <= 10_000 })
                return TypedResults.Problem(title: "Bad activity report", detail: "Give between 0 and 10,000 instances.", statusCode: StatusCodes.Status400BadRequest);
            return TypedResults.Ok(new ToolActivityRecorded(await tools.RecordActivityAsync(report.Instances, cancellationToken)));
        }).AllowAnonymous(); // No user's request: the service identity (checked by the group's filter) is the only credential.

        api.MapGet("/{host}", async Task<Results<Ok<ToolHostState>, ProblemHttpResult>> (string host, string? since, double? wait, HttpContext http,
            ToolHostStates states, VisualisationAccess visualisations, CancellationToken cancellationToken) =>
        {
            if (await RefusalAsync(host, http, visualisations, cancellationToken) is { } refusal) return refusal;
            var state = await states.StateAsync(host, cancellationToken);
            if (state is null) return NoSuchTool(host);
            if (since is not null && wait is > 0)
                state = await states.WaitForChangeAsync(host, since, TimeSpan.FromSeconds(Math.Min(wait.Value, MaxWait.TotalSeconds)), cancellationToken) ?? state;
            return TypedResults.Ok(state);
        });

        api.MapPost("/{host}/start", async Task<Results<Ok<ToolHostState>, ProblemHttpResult>> (string host, HttpContext http, ToolInstances tools,
            ToolHostStates states, VisualisationAccess visualisations, CancellationToken cancellationToken) =>
        {
            if (await RefusalAsync(host, http, visualisations, cancellationToken) is { } refusal) return refusal;
            try
            {
                await tools.StartAsync(ToolsApi.Identity(http.User), ToolHosts.BasenameOf(host)!, null, cancellationToken);
            }
            catch (ToolRefusedException refused)
            {
                return ToolRefusalResponses.Problem(refused);
            }

            return await StateOrNoSuchToolAsync(host, states, cancellationToken);
        });

        api.MapPost("/{host}/died", async Task<Results<Ok<ToolHostState>, ProblemHttpResult>> (string host, ToolDiedRequest request, HttpContext http,
            ToolInstances tools, ToolHostStates states, VisualisationAccess visualisations, CancellationToken cancellationToken) =>
        {
            if (await RefusalAsync(host, http, visualisations, cancellationToken) is { } refusal) return refusal;
            var active = await tools.ActiveAsync(host, cancellationToken);
            if (active?.Id == request.InstanceId)
                await tools.StopAsync(active.Id, null, Actor.Of(http.User), ToolStop.StoppedAnswering(request.Reason), cancellationToken);
            return await StateOrNoSuchToolAsync(host, states, cancellationToken);
        });
    }

    /// <summary>
    /// A host that is not a tool's, another user's tool, or a visualisation this user may not open: refused before
    /// anything is launched.
    /// </summary>
    private static async Task<ProblemHttpResult?> RefusalAsync(string host, HttpContext http, VisualisationAccess visualisations, CancellationToken cancellationToken)
    {
        if (ToolHostName.Parse(host).Name is not { Port: null } name || name.Host != host)
            return TypedResults.Problem(title: "Not a tool address", detail: $"'{host}' is not a tool's address.", statusCode: StatusCodes.Status404NotFound);
        if (name.IsVisualisation)
            return await visualisations.RefusalAsync(name.Basename, ToolsApi.Identity(http.User), cancellationToken) is { } refusal
                ? TypedResults.Problem(title: "No access", detail: refusal, statusCode: StatusCodes.Status403Forbidden)
                : null;
        return name.UserHash == UserHash.Of(http.User.Id())
            ? null
            : TypedResults.Problem(title: "Someone else's tool", detail: $"'{host}' is another user's tool: only they can open it.", statusCode: StatusCodes.Status403Forbidden);
    }

    private static async Task<Results<Ok<ToolHostState>, ProblemHttpResult>> StateOrNoSuchToolAsync(string host, ToolHostStates states, CancellationToken cancellationToken) =>
        await states.StateAsync(host, cancellationToken) is { } state ? TypedResults.Ok(state) : NoSuchTool(host);

    private static ProblemHttpResult NoSuchTool(string host) =>
        TypedResults.Problem(title: "No such tool", detail: $"There is no tool at '{host}'.", statusCode: StatusCodes.Status404NotFound);
}
