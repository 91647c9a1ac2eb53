using System.Security.Cryptography;
using System.Text;
using DataWorkspace.Security;
using DataWorkspace.Web.Catalogue;
using DataWorkspace.Web.Data;
using DataWorkspace.Web.DatabaseAccess;
using DataWorkspace.Web.Demo;
using DataWorkspace.Web.Security;
using DataWorkspace.Web.Tools;
using Microsoft.AspNetCore.Http.HttpResults;

namespace DataWorkspace.Web.Operations;

/// <summary>What an operation did, in words for the operator who asked for it.</summary>
public sealed record OperationDone(string Message);

/// <summary>
/// What an operator runs now rather than waiting for its schedule, for the Aspire dashboard's commands on the web
/// resource: the permission sync, culling idle tools, reloading the demo data. Only with the key the AppHost generates
/// and gives the web app (<c>Operations:Key</c>), as a bearer token; without a key configured (a deployment) every call
/// is refused. Under <c>/internal</c>, which the proxy never forwards from the public entry.
/// </summary>
public static class OperationsApi
{
    public const string Prefix = "/internal/v1/operations";
    public const string KeySetting = "Operations:Key";

    public static WebApplication MapOperations(this WebApplication app)
    {
        var api = app.MapGroup(Prefix).NotForBrowsers().AddEndpointFilter(RefuseWithoutTheKey)
            .AllowAnonymous(); // No user's request: the operations key (checked by the group's filter) is the only credential.

        api.MapPost("/permission-sync", async Task<Ok<OperationDone>> (RoleSync sync, CancellationToken cancellationToken) =>
        {
            var result = await sync.SyncAsync(cancellationToken);
            var skipped = result.Skipped.Count == 0 ? "" : $"; skipped {result.Skipped.Count}: {string.Join("; ", result.Skipped)}";
            return TypedResults.Ok(new OperationDone($"Database roles and grants synchronised with the catalogue: {result.Statements} changes{skipped}."));
        });

        api.MapPost("/cull-idle-tools", async Task<Ok<OperationDone>> (ToolCuller culler, CancellationToken cancellationToken) =>
        {
            var stopped = await culler.CullAsync(cancellationToken);
            return TypedResults.Ok(new OperationDone(stopped switch
            {
                0 => "No tool was idle, past its lifetime or left starting: none stopped.",
                1 => "Stopped 1 tool (idle, past its lifetime, left starting or its user's account deactivated); the web app's log says which.",
                _ => $"Stopped {stopped} tools (idle, past their lifetime, left starting or their users' accounts deactivated); the web app's log says which.",
            }));
        });

        api.MapPost("/demo-data", async Task<Results<Ok<OperationDone>, ProblemHttpResult>> (CatalogueDbContext catalogue, IConfiguration configuration,
            ILoggerFactory loggers, CancellationToken cancellationToken) =>
        {
            if (configuration.GetConnectionString(DatasetsDatabase.ConnectionName) is not { Length: > 0 } datasets)
                return TypedResults.Problem(title: "No datasets database", detail: "The web app has no datasets connection string, so there is nowhere to load the demo tables.",
                    statusCode: StatusCodes.Status409Conflict);
            var before = await CountAsync(catalogue, cancellationToken);
            await DemoCatalogue.SeedAsync(catalogue, datasets, loggers.CreateLogger(typeof(DemoCatalogue)), cancellationToken);
            var added = await CountAsync(catalogue, cancellationToken) - before;
            return TypedResults.Ok(new OperationDone(added == 0
                ? "The demo datasets were all there: nothing added; emptied demo tables were filled again."
                : $"Added {added} demo datasets that were missing; emptied demo tables were filled again."));
        });

        return app;
    }

    private static Task<int> CountAsync(CatalogueDbContext catalogue, CancellationToken cancellationToken) =>
        Microsoft.EntityFrameworkCore.EntityFrameworkQueryableExtensions.CountAsync(catalogue.Datasets, cancellationToken);

    private static async ValueTask<object?> RefuseWithoutTheKey(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var key = http.RequestServices.GetRequiredService<IConfiguration>()[KeySetting];
        var presented = http.Request.Headers.Authorization.ToString();
        string? failure = key is not { Length: > 0 } ? "operations are not enabled here (no Operations:Key)"
            : !presented.StartsWith("Bearer ", StringComparison.Ordinal) ? "no operations key was presented"
            : !Same(presented["Bearer ".Length..], key) ? "the operations key is not valid"
            : null;
        if (failure is null) return await next(context);
        http.RequestServices.GetRequiredService<SecurityRefusals>().Record(http, RefusalReason.ServiceCredentials, $"operations API: {failure}");
        return TypedResults.Problem(title: "Not the operator", detail: $"This API is for the platform's operators (the Aspire dashboard's commands) only: {failure}.",
            statusCode: StatusCodes.Status403Forbidden);
    }

    /// <summary>Compared in constant time, whatever the lengths.</summary>
    private static bool Same(string presented, string key) =>
        CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(presented)), SHA256.HashData(Encoding.UTF8.GetBytes(key)));
}
