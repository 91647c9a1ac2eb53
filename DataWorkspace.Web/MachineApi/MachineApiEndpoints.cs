using DataWorkspace.Web.Catalogue;
using DataWorkspace.Web.Data;
using DataWorkspace.Web.Security;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace DataWorkspace.Web.MachineApi;

/// <summary>The catalogue and table rows for other systems, signed with Hawk instead of a user's session.</summary>
public static class MachineApiEndpoints
{
    public const string RoutePrefix = "/api/machine/v1";
    public const string GroupName = "machine";
    public const int DefaultPageSize = 1000;
    public const int MaxPageSize = 10000;

    public sealed record MachineDataset(string Slug, string Name, string Type, string ShortDescription, string Publisher, string AccessType, IReadOnlyList<MachineTable> Tables);

    public sealed record MachineDatasetList(IReadOnlyList<MachineDataset> Datasets);

    public sealed record MachineDatasetDetail(
        string Slug, string Name, string Type, string ShortDescription, string Description, string Publisher, string Licence,
        string AccessType, string AccessStatus, bool CanRead, DateTimeOffset? AccessExpiresAt, IReadOnlyList<MachineTable> Tables);

    /// <param name="Table">What to put in the rows URL: the table's name in the datasets database.</param>
    public sealed record MachineTable(string Name, string Schema, string Table, string RowsUrl);

    /// <summary>Only Hawk-signed requests: the proxy's user identity is neither needed nor accepted here.</summary>
    public static AuthorizationPolicy Policy { get; } =
        new AuthorizationPolicyBuilder(HawkAuthenticationHandler.SchemeName).RequireAuthenticatedUser().Build();

    public static IEndpointRouteBuilder MapMachineApiEndpoints(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup(RoutePrefix).WithTags("Machine API").WithGroupName(GroupName).RequireAuthorization(Policy).NotForBrowsers();

        api.MapGet("/datasets", async Task<Ok<MachineDatasetList>> (HttpContext context, CatalogueDbContext catalogue, DatasetAccess access, CancellationToken cancellationToken) =>
        {
            var datasets = await catalogue.Datasets.AsNoTracking().AsSplitQuery()
                .Where(d => d.Published && d.DeletedAt == null)
                .Where(access.ReadableBy(context.User.AsReader()))
                .Include(d => d.Tables)
                .OrderBy(d => d.Name)
                .ToListAsync(cancellationToken);
            return TypedResults.Ok(new MachineDatasetList([.. datasets.Select(d => new MachineDataset(
                d.Slug, d.Name, d.Type.ToString(), d.ShortDescription, d.Publisher, d.AccessType.ToString(), Tables(d)))]));
        }).WithSummary("The published datasets this client may read.");

        api.MapGet("/datasets/{slug}", async Task<Results<Ok<MachineDatasetDetail>, ProblemHttpResult>> (
            string slug, HttpContext context, CatalogueDbContext catalogue, DatasetAccess access, CancellationToken cancellationToken) =>
        {
            var dataset = await CatalogueApi.PublishedDataset(catalogue, slug, cancellationToken);
            if (dataset is null) return UnknownDataset(slug);
            var decision = await access.DecideAsync(dataset, context.User.AsReader(), cancellationToken);
            return TypedResults.Ok(new MachineDatasetDetail(
                dataset.Slug, dataset.Name, dataset.Type.ToString(), dataset.ShortDescription, dataset.Description, dataset.Publisher,
                dataset.Licence, dataset.AccessType.ToString(), decision.Status.ToString(), decision.CanRead, decision.ExpiresAt, Tables(dataset)));
        }).WithSummary("A dataset's metadata and whether this client may read it.")
          .ProducesProblem(StatusCodes.Status404NotFound);

        api.MapGet("/datasets/{slug}/tables/{table}/rows", async Task<Results<TableRowsResult, ProblemHttpResult>> (
            string slug, string table, int? page, int? pageSize, HttpContext context, CatalogueDbContext catalogue, DatasetAccess access,
            DatasetsDatabase database, [FromKeyedServices(DatasetsDatabase.ConnectionName)] NpgsqlDataSource datasets, CancellationToken cancellationToken) =>
        {
            var size = pageSize ?? DefaultPageSize;
            var number = page ?? 1;
            if (size is < 1 or > MaxPageSize)
                return TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Page size out of range",
                    detail: $"pageSize must be between 1 and {MaxPageSize}; it was {size}. Follow the 'next' link to read more rows.");
            if (number < 1)
                return TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Page out of range", detail: $"page starts at 1; it was {number}.");

            var dataset = await CatalogueApi.PublishedDataset(catalogue, slug, cancellationToken);
            if (dataset is null) return UnknownDataset(slug);
            var decision = await access.DecideAsync(dataset, context.User.AsReader(), cancellationToken);
            if (!decision.CanRead)
                return TypedResults.Problem(statusCode: StatusCodes.Status403Forbidden, title: "No access to this dataset",
                    detail: decision.Status == AccessStatus.Expired
                        ? $"This client's access to '{slug}' ended on {decision.ExpiresAt:yyyy-MM-dd}. Ask the dataset's approvers to renew it for {context.User.Identity!.Name}."
                        : $"This client may not read '{slug}'. Ask the dataset's approvers to grant access to its service identity.");

            var source = dataset.Tables.FirstOrDefault(t => t.Table == table || $"{t.Schema}.{t.Table}" == table);
            if (source is null)
                return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Unknown table",
                    detail: $"The dataset '{slug}' has no table '{table}'. Its tables are: {string.Join(", ", dataset.Tables.Select(t => t.Table))}.");
            var columns = await database.ColumnsAsync(source, cancellationToken);
            if (columns.Count == 0)
                return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Table not loaded",
                    detail: $"The table '{source.Schema}.{source.Table}' is not in the datasets database yet. Try again after the next data load.");

            return new TableRowsResult(datasets, source, columns, number, size, RowsUrl(dataset.Slug, table, number + 1, size));
        }).WithSummary("One page of a table's rows, in a stable order; follow 'next' until it is null.")
          .ProducesProblem(StatusCodes.Status400BadRequest)
          .ProducesProblem(StatusCodes.Status403Forbidden)
          .ProducesProblem(StatusCodes.Status404NotFound);

        return app;
    }

    private static ProblemHttpResult UnknownDataset(string slug) =>
        TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Unknown dataset",
            detail: $"No published dataset has the address '{slug}'. List the datasets this client may read at {RoutePrefix}/datasets.");

    private static List<MachineTable> Tables(Dataset dataset) =>
        [.. dataset.Tables.OrderBy(t => t.Name).Select(t => new MachineTable(t.Name, t.Schema, t.Table, RowsUrl(dataset.Slug, t.Table, 1, DefaultPageSize)))];

    private static string RowsUrl(string slug, string table, int page, int pageSize) =>
        $"{RoutePrefix}/datasets/{Uri.EscapeDataString(slug)}/tables/{Uri.EscapeDataString(table)}/rows?page={page}&pageSize={pageSize}";
}
