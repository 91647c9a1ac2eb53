using DataWorkspace.Web.Data;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace DataWorkspace.Web.Catalogue;

/// <summary>The catalogue's JSON API for signed-in users and their scripts.</summary>
public static class CatalogueApi
{
    public sealed record DatasetListItem(string Slug, string Name, string ShortDescription, string Type, string Publisher, string AccessType, bool CanRead, string Url);

    public sealed record DatasetList(IReadOnlyList<DatasetListItem> Results, int Total, int Page, int PageCount);

    public sealed record DatasetDetail(
        string Slug, string Name, string ShortDescription, string Description, string Type, string Publisher, string Licence,
        string Retention, string Classification, string AccessType, IReadOnlyList<string> Topics, string AccessStatus,
        bool CanRead, DateTimeOffset? AccessExpiresAt, IReadOnlyList<ApiSourceTable> Tables, IReadOnlyList<ApiSourceLink> Links);

    public sealed record ApiSourceTable(string Name, string Schema, string Table);

    public sealed record ApiSourceLink(string Name, string Url, string Format);

    public sealed record MyAccessItem(string Slug, string Name, string How, DateTimeOffset? ExpiresAt);

    /// <summary>The restricted datasets the caller may read (open ones are readable by everyone) and whether they may launch tools.</summary>
    public sealed record MyAccess(IReadOnlyList<MyAccessItem> Datasets, MyToolsAccess Tools);

    public sealed record MyToolsAccess(bool Granted, string? Source, DateTimeOffset? ExpiresAt);

    public static IEndpointRouteBuilder MapCatalogueApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1").WithTags("Catalogue");

        api.MapGet("/datasets", async Task<Results<Ok<DatasetList>, BadRequest<string>>> (
            string? q, string[]? type, string[]? topic, string[]? publisher, int? page, HttpContext context, CatalogueSearch search, CancellationToken cancellationToken) =>
        {
            var types = new List<DatasetType>();
            foreach (var value in type ?? [])
            {
                if (!Enum.TryParse<DatasetType>(value, ignoreCase: true, out var parsed))
                    return TypedResults.BadRequest($"Unknown dataset type '{value}'. Use one of: {string.Join(", ", Enum.GetNames<DatasetType>())}.");
                types.Add(parsed);
            }

            var results = await search.SearchAsync(new CatalogueQuery
            {
                Text = q, Types = types, Topics = topic ?? [], Publishers = publisher ?? [], Page = page ?? 1,
            }, context.User.AsReader(), cancellationToken);
            return TypedResults.Ok(new DatasetList(
                [.. results.Items.Select(d => new DatasetListItem(d.Slug, d.Name, d.ShortDescription, d.Type.ToString(), d.Publisher, d.AccessType.ToString(), d.CanRead, $"/datasets/{d.Slug}"))],
                results.Total, results.Page, results.PageCount));
        });

        api.MapGet("/datasets/{slug}", async Task<Results<Ok<DatasetDetail>, NotFound<string>>> (
            string slug, HttpContext context, CatalogueDbContext catalogue, DatasetAccess access, CancellationToken cancellationToken) =>
        {
            var dataset = await PublishedDataset(catalogue, slug, cancellationToken);
            if (dataset is null) return TypedResults.NotFound($"No dataset has the address '{slug}'.");
            var decision = await access.DecideAsync(dataset, context.User.AsReader(), cancellationToken);
            return TypedResults.Ok(new DatasetDetail(
                dataset.Slug, dataset.Name, dataset.ShortDescription, dataset.Description, dataset.Type.ToString(), dataset.Publisher,
                dataset.Licence, dataset.Retention, dataset.Classification.ToString(), dataset.AccessType.ToString(),
                [.. dataset.Tags.Where(t => t.Type == TagType.Topic).Select(t => t.Name).Order()], decision.Status.ToString(), decision.CanRead,
                decision.ExpiresAt,
                [.. dataset.Tables.Select(t => new ApiSourceTable(t.Name, t.Schema, t.Table))],
                [.. dataset.Links.Select(l => new ApiSourceLink(l.Name, l.Url, l.Format))]));
        });

        api.MapGet("/me/access", async Task<Ok<MyAccess>> (HttpContext context, CatalogueDbContext catalogue, DatasetAccess access, ToolsAccess.ToolsAccessService tools, TimeProvider time, CancellationToken cancellationToken) =>
        {
            var reader = context.User.AsReader();
            var active = catalogue.Permissions.ActiveAt(time.GetUtcNow());
            var restricted = await catalogue.Datasets.AsNoTracking()
                .Where(d => d.Published && d.DeletedAt == null && d.AccessType == AccessType.RequiresAuthorization)
                .Where(access.ReadableBy(reader))
                .Select(d => new
                {
                    d.Slug,
                    d.Name,
                    ByDomain = d.AuthorizedEmailDomains.Contains(reader.EmailDomain),
                    Expires = active.Where(p => p.DatasetId == d.Id && p.UserId == reader.UserId)
                        .OrderByDescending(p => p.ExpiresAt == null).ThenByDescending(p => p.ExpiresAt).Select(p => p.ExpiresAt).FirstOrDefault(),
                })
                .OrderBy(d => d.Name)
                .ToListAsync(cancellationToken);
            var toolsPermission = await tools.ActivePermissionAsync(reader.UserId, cancellationToken);
            return TypedResults.Ok(new MyAccess(
                [.. restricted.Select(d => new MyAccessItem(d.Slug, d.Name, d.ByDomain ? "email domain" : "permission", d.ByDomain ? null : d.Expires))],
                new MyToolsAccess(toolsPermission is not null, toolsPermission?.Source.ToString(), toolsPermission?.ExpiresAt)));
        });

        return app;
    }

    public static Task<Dataset?> PublishedDataset(CatalogueDbContext catalogue, string slug, CancellationToken cancellationToken) =>
        catalogue.Datasets.AsNoTracking().AsSplitQuery()
            .Include(d => d.Tags).Include(d => d.Tables).Include(d => d.Links).Include(d => d.Queries)
            .FirstOrDefaultAsync(d => d.Slug == slug && d.Published && d.DeletedAt == null, cancellationToken);
}
