using System.Diagnostics;
using System.Reflection;
using DataWorkspace.Web.Audit;
using DataWorkspace.Web.Data;
using DataWorkspace.Web.DatabaseAccess;
using DataWorkspace.Web.Identity;
using Microsoft.AspNetCore.Http.Metadata;
using Npgsql;

namespace DataWorkspace.Web.Explorer;

/// <summary>
/// A finished query's rows streamed from its result table as CSV, JSON or XLSX, then audited. It says what it sends,
/// for the OpenAPI document: a stream has no type to infer it from.
/// </summary>
public sealed class QueryResultDownload(Guid id, string format, NpgsqlConnection connection, string table, ExplorerQuery query) : IResult, IEndpointMetadataProvider
{
    public static readonly IReadOnlyList<string> Formats = ["csv", "json", "xlsx"];

    public async Task ExecuteAsync(HttpContext http)
    {
        var cancellationToken = http.RequestAborted;
        var user = http.User;
        var started = Stopwatch.GetTimestamp();
        using var counted = http.RequestServices.GetRequiredService<DownloadedBytes>().Count(http, format, "explorer");
        long rows;
        await using (connection)
        {
            http.Response.Headers.ContentDisposition = $"attachment; filename=\"query-{id.ToString("N")[..8]}.{format}\"";
            http.Response.Headers.CacheControl = "no-store";
            if (format == "csv")
            {
                http.Response.ContentType = "text/csv; charset=utf-8";
                using var copy = await connection.BeginTextExportAsync($"COPY (SELECT * FROM {table}) TO STDOUT (FORMAT csv, HEADER)", cancellationToken);
                await Downloads.CopyCsvAsync(copy, http.Response.Body, cancellationToken);
                rows = query.Total ?? 0;
            }
            else
            {
                http.Response.ContentType = format == "json" ? ResultFiles.JsonContentType : ResultFiles.XlsxContentType;
                await using var command = new NpgsqlCommand($"SET synchronize_seqscans = off; SELECT * FROM {table}", connection);
                await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                rows = format == "json"
                    ? await ResultFiles.WriteJsonAsync(reader, http.Response.Body, cancellationToken)
                    : await ResultFiles.WriteXlsxAsync(reader, http.Response.Body, cancellationToken);
            }
        }

        await using var scope = http.RequestServices.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<AuditLog>().Add(AuditActions.ResultDownloaded, Actor.Of(user),
            $"{user.DisplayName()} downloaded a Data Explorer result as {format.ToUpperInvariant()}: {rows:N0} rows in {Stopwatch.GetElapsedTime(started).TotalSeconds:N1} s",
            details: query.Sql);
        await scope.ServiceProvider.GetRequiredService<CatalogueDbContext>().SaveChangesAsync(CancellationToken.None);
    }

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder) =>
        builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status200OK, typeof(Stream),
            ["text/csv", ResultFiles.JsonContentType, ResultFiles.XlsxContentType]));
}
