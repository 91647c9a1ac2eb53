using DataWorkspace.Contracts;
using DataWorkspace.Web.ApiTokens;
using DataWorkspace.Web.Audit;
using DataWorkspace.Web.Catalogue;
using DataWorkspace.Web.Data;
using DataWorkspace.Web.DatabaseAccess;
using DataWorkspace.Web.Identity;
using DataWorkspace.Web.Portal;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace DataWorkspace.Web.Tools;

public sealed record GrantDatasetRequest(string? Dataset);

public sealed record VisualisationView(
    string Name, string HostBasename, Uri Url, string? CatalogueSlug, string? TeamSlug, bool CanOpen, string? Refusal, bool IsDeveloper,
    IReadOnlyList<string>? Datasets);

public sealed record VisualisationDatasetGranted(string Granted);

public sealed record VisualisationDatasetRemoved(string Removed);

/// <summary>
/// Visualisations: who may open each, and the datasets each may read with its own login. Its developers (its team)
/// give it read access to datasets they can read themselves, and take it away; admins may too.
/// </summary>
public static class VisualisationsApi
{
    public static void MapVisualisationsApi(this WebApplication app)
    {
        var api = app.MapGroup("/api/v1/visualisations").RequireScope(ApiScopes.Visualisations);

        api.MapGet("/", [EndpointSummary("Visualisations"), EndpointDescription("Each visualisation, whether you may open it and, for those you develop, the datasets it may read.")] async Task<Ok<List<VisualisationView>>> (HttpContext http, ToolTemplates templates, VisualisationAccess access, CatalogueDbContext catalogue,
            PortalLinks links, CancellationToken cancellationToken) =>
        {
            var services = http.RequestServices;
            var user = ToolsApi.Identity(http.User);
            var views = new List<VisualisationView>();
            foreach (var template in (await templates.AllAsync(cancellationToken)).Where(t => t.Kind == ToolKind.Visualisation && t.Visible))
            {
                var refusal = await access.RefusalAsync(template.HostBasename, user, cancellationToken);
                var developer = user.IsAdmin || await VisualisationAccess.IsDeveloperAsync(services, template, user.UserId, cancellationToken);
                var datasets = developer ? await GrantedSlugsAsync(catalogue, template.HostBasename, cancellationToken) : null;
                views.Add(new VisualisationView(template.Name, template.HostBasename, ToolHosts.UrlOf(template.HostBasename, links.Root),
                    template.CatalogueSlug, template.TeamSlug, refusal is null, refusal, developer, datasets));
            }

            return TypedResults.Ok(views);
        });

        api.MapPost("/{basename}/datasets", [EndpointSummary("Give a visualisation a dataset"), EndpointDescription("Lets a visualisation read a dataset you may read.")] async Task<Results<Created<VisualisationDatasetGranted>, Ok<VisualisationDatasetGranted>, ProblemHttpResult>> (
            string basename, GrantDatasetRequest request, HttpContext http, ToolTemplates templates, CatalogueDbContext catalogue, DatasetAccess access,
            AuditLog audit, RoleSync roles, TimeProvider time, CancellationToken cancellationToken) =>
        {
            var services = http.RequestServices;
            var user = ToolsApi.Identity(http.User);
            if (await DeveloperRefusalAsync(basename, user, templates, services, cancellationToken) is { } refusal) return refusal;
            var dataset = await catalogue.Datasets.AsNoTracking()
                .FirstOrDefaultAsync(d => d.Slug == request.Dataset && d.Published && d.DeletedAt == null && d.Type != DatasetType.Visualisation, cancellationToken);
            if (dataset is null)
                return TypedResults.Problem(title: "No such dataset", detail: $"There is no published dataset '{request.Dataset}' to give: use a dataset's address (its slug).", statusCode: StatusCodes.Status404NotFound);
            if (!(await access.DecideAsync(dataset, new Reader(user.UserId, user.Email), cancellationToken)).CanRead)
                return TypedResults.Problem(title: "Not yours to give", detail: $"You cannot read '{dataset.Name}' yourself, so you cannot give it to a visualisation. Ask for access to it first.", statusCode: StatusCodes.Status403Forbidden);
            if (await catalogue.Set<VisualisationDataset>().AnyAsync(g => g.HostBasename == basename && g.DatasetId == dataset.Id, cancellationToken))
                return TypedResults.Ok(new VisualisationDatasetGranted(dataset.Slug));

            catalogue.Add(new VisualisationDataset { HostBasename = basename, DatasetId = dataset.Id, GrantedBy = user.UserId, GrantedAt = time.GetUtcNow() });
            audit.Add(AuditActions.VisualisationDatasetGranted, Actor.Of(http.User), $"{basename} may read {dataset.Name}", datasetId: dataset.Id, details: basename);
            await catalogue.SaveChangesAsync(cancellationToken);
            await roles.SyncAsync(cancellationToken);
            return TypedResults.Created($"/api/v1/visualisations/{basename}/datasets/{dataset.Slug}", new VisualisationDatasetGranted(dataset.Slug));
        }).ProducesProblem(StatusCodes.Status403Forbidden).ProducesProblem(StatusCodes.Status404NotFound);

        api.MapDelete("/{basename}/datasets/{slug}", [EndpointSummary("Take a dataset from a visualisation"), EndpointDescription("Stops a visualisation reading a dataset.")] async Task<Results<Ok<VisualisationDatasetRemoved>, ProblemHttpResult>> (
            string basename, string slug, HttpContext http, ToolTemplates templates, CatalogueDbContext catalogue, AuditLog audit, RoleSync roles,
            CancellationToken cancellationToken) =>
        {
            var services = http.RequestServices;
            var user = ToolsApi.Identity(http.User);
            if (await DeveloperRefusalAsync(basename, user, templates, services, cancellationToken) is { } refusal) return refusal;
            var grant = await catalogue.Set<VisualisationDataset>()
                .Join(catalogue.Datasets, g => g.DatasetId, d => d.Id, (g, d) => new { Grant = g, d.Slug, d.Name, d.Id })
                .FirstOrDefaultAsync(g => g.Grant.HostBasename == basename && g.Slug == slug, cancellationToken);
            if (grant is null)
                return TypedResults.Problem(title: "Not given", detail: $"{basename} has not been given '{slug}'.", statusCode: StatusCodes.Status404NotFound);
            catalogue.Remove(grant.Grant);
            audit.Add(AuditActions.VisualisationDatasetRemoved, Actor.Of(http.User), $"{basename} may no longer read {grant.Name}", datasetId: grant.Id, details: basename);
            await catalogue.SaveChangesAsync(cancellationToken);
            await roles.SyncAsync(cancellationToken);
            return TypedResults.Ok(new VisualisationDatasetRemoved(slug));
        }).ProducesProblem(StatusCodes.Status403Forbidden).ProducesProblem(StatusCodes.Status404NotFound);
    }

    private static async Task<ProblemHttpResult?> DeveloperRefusalAsync(string basename, DataWorkspace.Contracts.PlatformIdentity user, ToolTemplates templates,
        IServiceProvider services, CancellationToken cancellationToken)
    {
        if (await templates.ByBasenameAsync(basename, cancellationToken) is not { Kind: ToolKind.Visualisation } template)
            return TypedResults.Problem(title: "No such visualisation", detail: $"There is no visualisation '{basename}'.", statusCode: StatusCodes.Status404NotFound);
        if (user.IsAdmin || await VisualisationAccess.IsDeveloperAsync(services, template, user.UserId, cancellationToken)) return null;
        return TypedResults.Problem(title: "Not a developer", statusCode: StatusCodes.Status403Forbidden,
            detail: template.TeamSlug is null
                ? $"{template.Name} has no team of developers, so only an admin can change what it may read."
                : $"Only members of the team '{template.TeamSlug}' (its developers) can change what {template.Name} may read.");
    }

    private static async Task<List<string>> GrantedSlugsAsync(CatalogueDbContext catalogue, string basename, CancellationToken cancellationToken) =>
        await catalogue.Set<VisualisationDataset>().Where(g => g.HostBasename == basename)
            .Join(catalogue.Datasets, g => g.DatasetId, d => d.Id, (g, d) => d.Slug).OrderBy(s => s).ToListAsync(cancellationToken);
}
