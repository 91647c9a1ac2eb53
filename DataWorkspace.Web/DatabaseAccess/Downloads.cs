using System.Diagnostics;
using System.Reflection;
using DataWorkspace.Web.Audit;
using DataWorkspace.Web.Catalogue;
using DataWorkspace.Web.Data;
using DataWorkspace.Web.Identity;
using DataWorkspace.Web.Text;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using static DataWorkspace.Web.DatabaseAccess.DatabaseRoleNames;

namespace DataWorkspace.Web.DatabaseAccess;

/// <summary>
/// Downloads of a dataset's tables and data cuts as CSV, streamed from PostgreSQL's COPY with the user's own login:
/// PostgreSQL decides again what the user may read, the bytes go from the database to the response in 64 KB pieces,
/// and no catalogue connection is held while they flow.
/// </summary>
public static class Downloads
{
    public static void MapDownloads(this WebApplication app)
    {
        app.MapGet("/datasets/{slug}/tables/{table}/download", Task<Results<DatasetDownload, ProblemHttpResult>> (string slug, string table, HttpContext http, CancellationToken cancellationToken) =>
            DownloadAsync(http, slug, dataset => dataset.Tables.FirstOrDefault(t => t.Table == table || $"{t.Schema}.{t.Table}" == table) is { } source
                ? ($"{Quote(source.Schema)}.{Quote(source.Table)}", $"{source.Schema}.{source.Table}", $"{slug}-{source.Table}.csv")
                : null, cancellationToken))
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status404NotFound);

        app.MapGet("/datasets/{slug}/cuts/{id:guid}/download", Task<Results<DatasetDownload, ProblemHttpResult>> (string slug, Guid id, HttpContext http, CancellationToken cancellationToken) =>
            DownloadAsync(http, slug, dataset => dataset.Queries.FirstOrDefault(q => q.Id == id) is { } query
                ? ($"(SELECT * FROM {Quote(DataCutSchema)}.{Quote(DataCutView(query.Id))})", $"data cut '{query.Name}'", $"{slug}-{Slug(query.Name)}.csv")
                : null, cancellationToken))
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status404NotFound);
    }

    private static async Task<Results<DatasetDownload, ProblemHttpResult>> DownloadAsync(
        HttpContext http, string slug, Func<Dataset, (string Source, string Label, string FileName)?> pick, CancellationToken cancellationToken)
    {
        var services = http.RequestServices;
        var user = http.User;
        Dataset? dataset;
        DatasetAccessDecision decision;
        await using (var scope = services.CreateAsyncScope())
        {
            var catalogue = scope.ServiceProvider.GetRequiredService<CatalogueDbContext>();
            dataset = await catalogue.Datasets.AsNoTracking().Include(d => d.Tables).Include(d => d.Queries)
                .FirstOrDefaultAsync(d => d.Slug == slug && d.Published && d.DeletedAt == null, cancellationToken);
            if (dataset is null || pick(dataset) is null)
                return Problem(StatusCodes.Status404NotFound, "Not found", dataset is null
                    ? $"There is no dataset '{slug}'."
                    : $"Dataset '{dataset.Name}' has no such table. Its page lists what it has.");

            decision = await scope.ServiceProvider.GetRequiredService<DatasetAccess>().DecideAsync(dataset, user.AsReader(), cancellationToken);
        }

        var (source, label, fileName) = pick(dataset)!.Value;
        if (!decision.CanRead)
            return Problem(StatusCodes.Status403Forbidden, "You do not have access to this data",
                $"You cannot download {label} of '{dataset.Name}'. Ask for access on its page: /datasets/{slug}.");

        var logins = services.GetRequiredService<DatabaseLogins>();
        var login = await logins.PortalLoginAsync(user.Id(), cancellationToken);
        var started = Stopwatch.GetTimestamp();
        var connection = await login.DataSource.OpenConnectionAsync(cancellationToken);
        var copySql = $"COPY {source} TO STDOUT (FORMAT csv, HEADER)";
        try
        {
            var (copy, refusal) = await ExportAsync(connection, copySql, services.GetRequiredService<RoleSync>(), cancellationToken);
            if (copy is not null) return new DatasetDownload(connection, copy, dataset, label, fileName, copySql, started);
            await connection.DisposeAsync();
            return Problem(StatusCodes.Status403Forbidden, "The database refused this download", $"PostgreSQL said: {refusal}. If your access was just given, try again in a minute.");
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts the COPY out, or says why the database refused it.</summary>
    private static async Task<(TextReader? Copy, string? Refusal)> ExportAsync(NpgsqlConnection connection, string copySql, RoleSync roleSync, CancellationToken cancellationToken)
    {
        try
        {
            return (await connection.BeginTextExportAsync(copySql, cancellationToken), null);
        }
        catch (PostgresException exception) when (exception.SqlState == PostgresErrorCodes.InsufficientPrivilege)
        {
            // The catalogue says yes but the grants have not caught up (an approval a moment ago): catch them up once.
            await roleSync.SyncAsync(cancellationToken);
            try
            {
                return (await connection.BeginTextExportAsync(copySql, cancellationToken), null);
            }
            catch (PostgresException again) when (again.SqlState == PostgresErrorCodes.InsufficientPrivilege)
            {
                return (null, again.MessageText);
            }
        }
    }

    /// <summary>
    /// Copies a CSV export to <paramref name="output"/> as CSV for people: a value a spreadsheet would take as a formula
    /// gets a leading ' (see <see cref="CsvText.LooksLikeFormula"/>). Returns the records, header included.
    /// </summary>
    internal static Task<long> CopyCsvAsync(TextReader export, Stream output, CancellationToken cancellationToken) =>
        CsvText.CopyForPeopleAsync(export, output, cancellationToken);

    private static ProblemHttpResult Problem(int status, string title, string detail) =>
        TypedResults.Problem(title: title, detail: detail, statusCode: status);

    private static string Slug(string name) => new([.. name.ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) ? c : '-')]);
}

/// <summary>
/// A table or data cut streamed as CSV from a COPY already started with the user's login, then audited. It says what
/// it sends, for the OpenAPI document: a stream has no type to infer it from.
/// </summary>
public sealed class DatasetDownload(
    NpgsqlConnection connection, TextReader copy, Dataset dataset, string label, string fileName, string copySql, long started) : IResult, IEndpointMetadataProvider
{
    public async Task ExecuteAsync(HttpContext http)
    {
        await using var _ = connection;
        var user = http.User;
        long rows;
        using (http.RequestServices.GetRequiredService<DownloadedBytes>().Count(http, "csv", "dataset"))
        using (copy)
        {
            http.Response.ContentType = "text/csv; charset=utf-8";
            http.Response.Headers.ContentDisposition = $"attachment; filename=\"{fileName}\"";
            http.Response.Headers.CacheControl = "no-store";
            rows = await Downloads.CopyCsvAsync(copy, http.Response.Body, http.RequestAborted) - 1; // less the header
        }

        var elapsed = Stopwatch.GetElapsedTime(started);
        await using var auditScope = http.RequestServices.CreateAsyncScope();
        var auditCatalogue = auditScope.ServiceProvider.GetRequiredService<CatalogueDbContext>();
        auditScope.ServiceProvider.GetRequiredService<AuditLog>().Add(AuditActions.TableDownloaded, Actor.Of(user),
            $"{user.DisplayName()} downloaded {label} of '{dataset.Name}': {Math.Max(rows, 0):N0} rows in {elapsed.TotalSeconds:N1} s",
            dataset.Id, details: copySql);
        await auditCatalogue.SaveChangesAsync(CancellationToken.None);
    }

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder) =>
        builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status200OK, typeof(Stream), ["text/csv"]));
}
