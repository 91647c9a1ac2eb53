using DataWorkspace.Contracts;
using DataWorkspace.Web.ApiTokens;
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

    public static IEndpointRouteBuilder MapCatalogueApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1").WithTags("Catalogue").RequireScope(ApiScopes.CatalogueRead);

        api.MapGet("/datasets", [EndpointSummary("Search datasets"), EndpointDescription("Published datasets matching a search, a page at a time, with whether you may read each.")] async Task<Results<Ok<DatasetList>, BadRequest<string>>> (
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

        api.MapGet("/datasets/{slug}", [EndpointSummary("A dataset"), EndpointDescription("A published dataset: its description, tables, data cuts and whether you may read it.")] async Task<Results<Ok<DatasetDetail>, NotFound<string>>> (
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

        return app;
    }

    public static Task<Dataset?> PublishedDataset(CatalogueDbContext catalogue, string slug, CancellationToken cancellationToken) =>
        catalogue.Datasets.AsNoTracking().AsSplitQuery()
            .Include(d => d.Tags).Include(d => d.Tables).Include(d => d.Links).Include(d => d.Queries)
            .FirstOrDefaultAsync(d => d.Slug == slug && d.Published && d.DeletedAt == null, cancellationToken);
}
