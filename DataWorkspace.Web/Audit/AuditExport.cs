using System.Globalization;
using System.Reflection;
using DataWorkspace.Web.Data;
using DataWorkspace.Web.Identity;
using DataWorkspace.Web.Text;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.EntityFrameworkCore;

namespace DataWorkspace.Web.Audit;

/// <summary>The datasets the log's filter names by their address: the catalogue, a layer above the audit log, answers.</summary>
public interface IAuditedDatasets
{
    /// <summary>The ids of the datasets at <paramref name="slug"/>, as a query that runs inside the log's.</summary>
    IQueryable<Guid?> IdsAt(string slug);
}

/// <summary>A filter over the audit log, shared by the admin page and the CSV export so both show the same entries.</summary>
public sealed record AuditFilter(string? Action, string? Actor, string? Dataset, DateOnly? From, DateOnly? To)
{
    public IQueryable<AuditEvent> Apply(CatalogueDbContext catalogue, IAuditedDatasets datasets)
    {
        var events = catalogue.AuditEvents.AsNoTracking();
        if (!string.IsNullOrWhiteSpace(Action)) events = events.Where(e => e.Action == Action);
        if (!string.IsNullOrWhiteSpace(Actor))
        {
            var actor = Actor.Trim().ToLower();
            events = events.Where(e => e.ActorEmail.ToLower().Contains(actor) || e.ActorId == Actor.Trim());
        }

        if (!string.IsNullOrWhiteSpace(Dataset))
        {
            var ids = datasets.IdsAt(Dataset.Trim());
            events = events.Where(e => ids.Contains(e.DatasetId));
        }

        if (From is { } from) events = events.Where(e => e.At >= new DateTimeOffset(from.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero));
        if (To is { } to) events = events.Where(e => e.At < new DateTimeOffset(to.AddDays(1).ToDateTime(TimeOnly.MinValue), TimeSpan.Zero));
        return events.OrderByDescending(e => e.Id);
    }
}

public static class AuditExport
{
    /// <summary><c>GET /admin/audit/export.csv</c>: the filtered log as CSV, streamed row by row (admins only).</summary>
    public static IEndpointRouteBuilder MapAuditExport(this IEndpointRouteBuilder app)
    {
        app.MapGet("/admin/audit/export.csv", AuditCsv (string? action, string? actor, string? dataset, DateOnly? from, DateOnly? to, CatalogueDbContext catalogue, IAuditedDatasets datasets) =>
            new AuditCsv(new AuditFilter(action, actor, dataset, from, to).Apply(catalogue, datasets)))
            .RequireAuthorization(AdminOptions.Policy).ExcludeFromDescription();
        return app;
    }
}

/// <summary>Audit entries streamed as CSV, row by row; it says what it sends, as a stream has no type to infer it from.</summary>
public sealed class AuditCsv(IQueryable<AuditEvent> events) : IResult, IEndpointMetadataProvider
{
    public async Task ExecuteAsync(HttpContext context)
    {
        context.Response.ContentType = "text/csv; charset=utf-8";
        context.Response.Headers.ContentDisposition = $"attachment; filename=\"audit-{DateTime.UtcNow:yyyyMMdd-HHmmss}.csv\"";
        await using var csv = new CsvForPeople(context.Response.Body);
        await csv.RowAsync(["id", "at", "action", "actor_id", "actor_email", "client_ip", "dataset_id", "subject_user_id", "summary"], context.RequestAborted);
        await foreach (var e in events.AsAsyncEnumerable().WithCancellation(context.RequestAborted))
        {
            await csv.RowAsync([
                e.Id.ToString(CultureInfo.InvariantCulture), e.At.UtcDateTime.ToString("O", CultureInfo.InvariantCulture), e.Action,
                e.ActorId, e.ActorEmail, e.ClientIp, e.DatasetId?.ToString(), e.SubjectUserId, e.Summary], context.RequestAborted);
        }

        await csv.FinishAsync(context.RequestAborted);
    }

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder) =>
        builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status200OK, typeof(Stream), ["text/csv"]));
}
