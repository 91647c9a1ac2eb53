using System.Security.Claims;
using DataWorkspace.Contracts;
using DataWorkspace.Web.Audit;
using DataWorkspace.Web.Identity;

namespace DataWorkspace.Web.Tools;

public sealed record StartToolRequest(string? Size);

public sealed record ToolInstanceView(Guid Id, string Host, Uri Url, string State, string Size, string? Stage);

/// <summary>The tools this user may launch, with their address, state and size; start and stop. POSTs take JSON only.</summary>
public static class ToolsApi
{
    public static void MapToolsApi(this WebApplication app)
    {
        var api = app.MapGroup("/api/v1/tools");

        api.MapGet("/", async (HttpContext http, ToolInstances tools, CancellationToken cancellationToken) =>
            TypedResults.Ok(await tools.ListAsync(http.User.Id(), cancellationToken)));

        api.MapPost("/{basename}/start", async Task<IResult> (string basename, StartToolRequest? request, HttpContext http, ToolInstances tools,
            Portal.PortalLinks links, CancellationToken cancellationToken) =>
        {
            try
            {
                var instance = await tools.StartAsync(Identity(http.User), basename, request?.Size, cancellationToken);
                return TypedResults.Json(
                    new ToolInstanceView(instance.Id, instance.Host, ToolHosts.UrlOf(instance.Host, links.Root), instance.State.ToString(), instance.Size, instance.Stage),
                    statusCode: instance.State == InstanceState.Running ? StatusCodes.Status200OK : StatusCodes.Status202Accepted);
            }
            catch (ToolRefusedException refused)
            {
                return TypedResults.Problem(title: "The tool was not started", detail: refused.Message, statusCode: refused.Status);
            }
        });

        api.MapPost("/{basename}/stop", async Task<IResult> (string basename, HttpContext http, ToolInstances tools, CancellationToken cancellationToken) =>
        {
            var user = http.User;
            var active = await tools.ActiveAsync(ToolHosts.ForUser(basename, user.Id()), cancellationToken);
            if (active is null || !await tools.StopAsync(active.Id, user.Id(), Actor.Of(user), "stopped by its user", cancellationToken))
                return TypedResults.Problem(title: "Nothing to stop", detail: $"Your '{basename}' is not running.", statusCode: StatusCodes.Status404NotFound);
            return TypedResults.Ok(new { stopped = true });
        });
    }

    public static PlatformIdentity Identity(ClaimsPrincipal user) => new(user.Id(), user.EmailOf(), user.DisplayName(),
        [.. user.FindAll(PlatformClaims.Role).Select(c => c.Value)], user.FindFirstValue(PlatformClaims.ClientIp) ?? "");
}
