using System.Security.Claims;
using DataWorkspace.Contracts;
using DataWorkspace.Web.ApiTokens;
using DataWorkspace.Web.Audit;
using DataWorkspace.Web.Identity;
using Microsoft.AspNetCore.Http.HttpResults;

namespace DataWorkspace.Web.Tools;

public sealed record StartToolRequest(string? Size);

/// <summary>An instance as its start answers it; <paramref name="Stage"/> is in words (<see cref="ToolStageWords"/>).</summary>
public sealed record ToolInstanceView(Guid Id, string Host, Uri Url, ToolInstanceState State, string Size, string? Stage);

public sealed record ToolStopped(bool Stopped);

/// <summary>The tools this user may launch, with their address, state and size; start and stop. POSTs take JSON only.</summary>
public static class ToolsApi
{
    public static void MapToolsApi(this WebApplication app)
    {
        var api = app.MapGroup("/api/v1/tools").RequireScope(ApiScopes.Tools);

        api.MapGet("/", [EndpointSummary("Tools you can launch"), EndpointDescription("Each tool with the state of your instance of it.")] async Task<Ok<IReadOnlyList<ToolView>>> (HttpContext http, ToolList tools, CancellationToken cancellationToken) =>
            TypedResults.Ok(await tools.ListAsync(http.User.Id(), cancellationToken)));

        api.MapPost("/{basename}/start", [EndpointSummary("Start a tool"), EndpointDescription("Starts your instance of a tool, or says it is already starting or running.")] async Task<Results<Ok<ToolInstanceView>, Accepted<ToolInstanceView>, ProblemHttpResult>> (
            string basename, StartToolRequest? request, HttpContext http, ToolInstances tools, Portal.PortalLinks links, CancellationToken cancellationToken) =>
        {
            ToolInstance instance;
            try
            {
                instance = await tools.StartAsync(Identity(http.User), basename, request?.Size, cancellationToken);
            }
            catch (ToolRefusedException refused)
            {
                return ToolRefusalResponses.Problem(refused);
            }

            var view = new ToolInstanceView(instance.Id, instance.Host, ToolHosts.UrlOf(instance.Host, links.Root), instance.State, instance.Size, instance.Stage?.Words());
            return instance.State == ToolInstanceState.Running ? TypedResults.Ok(view) : TypedResults.Accepted((string?)null, view);
        }).ProducesToolRefusals();

        api.MapPost("/{basename}/stop", [EndpointSummary("Stop a tool"), EndpointDescription("Stops your instance of a tool.")] async Task<Results<Ok<ToolStopped>, ProblemHttpResult>> (string basename, HttpContext http, ToolInstances tools, CancellationToken cancellationToken) =>
        {
            var user = http.User;
            var active = await tools.ActiveAsync(ToolHosts.ForUser(basename, user.Id()), cancellationToken);
            if (active is null || !await tools.StopAsync(active.Id, user.Id(), Actor.Of(user), ToolStop.ByUser, cancellationToken))
                return TypedResults.Problem(title: "Nothing to stop", detail: $"Your '{basename}' is not running.", statusCode: StatusCodes.Status404NotFound);
            return TypedResults.Ok(new ToolStopped(true));
        }).ProducesProblem(StatusCodes.Status404NotFound);
    }

    public static PlatformIdentity Identity(ClaimsPrincipal user) => new(user.Id(), user.EmailOf(), user.DisplayName(),
        [.. user.FindAll(PlatformClaims.Role).Select(c => c.Value)], user.FindFirstValue(PlatformClaims.ClientIp) ?? "");
}
