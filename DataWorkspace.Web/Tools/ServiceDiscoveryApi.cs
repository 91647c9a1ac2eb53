using System.Security.Cryptography;
using System.Text;
using DataWorkspace.Contracts;
using DataWorkspace.Security;
using DataWorkspace.Web.Data;
using DataWorkspace.Web.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace DataWorkspace.Web.Tools;

/// <summary>The credentials Prometheus uses for service discovery (HTTP basic auth); discovery is off until both are set.</summary>
public sealed class ServiceDiscoveryOptions
{
    public const string Section = "Prometheus";

    public string Username { get; set; } = "";
    public string Password { get; set; } = "";

    public bool IsConfigured => Username.Length > 0 && Password.Length > 0;
}

/// <summary>One Prometheus <c>http_sd</c> target group: where to scrape, and the labels of what runs there.</summary>
public sealed record ServiceDiscoveryTargets(IReadOnlyList<string> Targets, IReadOnlyDictionary<string, string> Labels);

/// <summary>
/// <c>GET /api/v1/application</c>: the running tool instances as Prometheus <c>http_sd</c> targets, with labels for
/// the tool and its user. The target is the metrics sidecar beside each tool: on ECS the task's address and
/// <see cref="Ecs.EcsLauncher.MetricsPort"/>, locally its loopback port (a local tool without one is not listed: nothing
/// there serves metrics). Only Prometheus, with the configured basic-auth credentials, may ask.
/// </summary>
public static class ServiceDiscoveryApi
{
    public const string Path = "/api/v1/application";

    public static void MapServiceDiscoveryApi(this WebApplication app)
    {
        app.MapGet(Path, [EndpointSummary("Tools' metrics targets"), EndpointDescription("The running tools' metrics sidecars as Prometheus http_sd targets (Prometheus only, with basic auth).")] async Task<Results<Ok<List<ServiceDiscoveryTargets>>, ProblemHttpResult>> (
            HttpContext http, IOptionsMonitor<ServiceDiscoveryOptions> options, CatalogueDbContext catalogue, IServiceProvider services, CancellationToken cancellationToken) =>
        {
            var settings = options.CurrentValue;
            if (!settings.IsConfigured)
                return TypedResults.Problem(title: "Service discovery is off", statusCode: StatusCodes.Status404NotFound,
                    detail: "Prometheus service discovery is not configured: set Prometheus:Username and Prometheus:Password on the web app.");
            if (!Authorised(http.Request.Headers.Authorization.ToString(), settings))
            {
                http.RequestServices.GetRequiredService<SecurityRefusals>().Record(http, RefusalReason.ServiceCredentials, "service discovery without Prometheus's credentials");
                http.Response.Headers.WWWAuthenticate = "Basic realm=\"Data Workspace service discovery\", charset=\"UTF-8\"";
                return TypedResults.Problem(title: "Not authorised", statusCode: StatusCodes.Status401Unauthorized,
                    detail: "Give the service discovery credentials (Prometheus:Username and Prometheus:Password) with HTTP basic auth.");
            }

            var running = await catalogue.Set<ToolInstance>().AsNoTracking()
                .Where(i => i.State == ToolInstanceState.Running && i.Address != null)
                .Join(catalogue.Users.AsNoTracking(), i => i.OwnerId, u => u.Id, (i, u) => new { Instance = i, u.Email })
                .OrderBy(r => r.Instance.Host).ToListAsync(cancellationToken);
            var local = services.GetService<LocalSidecars>();
            string? TargetOf(ToolInstance instance) => instance.Launcher == "Ecs"
                ? $"{new Uri(instance.Address!).Host}:{Ecs.EcsLauncher.MetricsPort}"
                : local?.MetricsTarget(instance.Id);
            return TypedResults.Ok(running.Select(r => (r.Instance, r.Email, Target: TargetOf(r.Instance))).Where(r => r.Target is not null).Select(r =>
                new ServiceDiscoveryTargets(
                    [r.Target!],
                    new Dictionary<string, string>
                    {
                        ["tool"] = r.Instance.TemplateName,
                        ["tool_host"] = r.Instance.Host,
                        ["user"] = r.Email,
                        ["user_id"] = r.Instance.OwnerId,
                        ["user_hash"] = UserHash.Of(r.Instance.OwnerId),
                        ["instance_id"] = r.Instance.Id.ToString(),
                        ["size"] = r.Instance.Size,
                        ["launcher"] = r.Instance.Launcher,
                    })).ToList());
        }).ProducesProblem(StatusCodes.Status401Unauthorized).ProducesProblem(StatusCodes.Status404NotFound)
            .AllowAnonymous().NotForBrowsers(); // Prometheus has no session: its basic-auth credentials, checked above, are the gate.
    }

    private static bool Authorised(string header, ServiceDiscoveryOptions settings)
    {
        if (!header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase)) return false;
        string given;
        try
        {
            given = Encoding.UTF8.GetString(Convert.FromBase64String(header[6..].Trim()));
        }
        catch (FormatException)
        {
            return false;
        }

        // Compared as hashes in fixed time: neither length nor content leaks through timing.
        return CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(given)),
            SHA256.HashData(Encoding.UTF8.GetBytes($"{settings.Username}:{settings.Password}")));
    }
}
