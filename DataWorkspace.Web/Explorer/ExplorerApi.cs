using DataWorkspace.Contracts;
using DataWorkspace.Web.ApiTokens;
using DataWorkspace.Web.Data;
using DataWorkspace.Web.DatabaseAccess;
using DataWorkspace.Web.Identity;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace DataWorkspace.Web.Explorer;

public sealed record RunRequest(string? Sql, double? Wait);

public sealed record SaveRequest(string? Title, string? Description, string? Sql, bool Shared, ChartSpec? Chart = null);

public sealed record SchemaColumn(string Name, string Type);

public sealed record SchemaTable(string Name, List<SchemaColumn> Columns);

public sealed record SchemaEntry(string Name, List<SchemaTable> Tables);

/// <summary>The schemas, tables and columns the user's login can read.</summary>
public sealed record ExplorerSchema(List<SchemaEntry> Schemas);

public sealed record QueryPlan(string? Plan);

/// <summary>PostgreSQL's refusal of a statement it was asked to explain.</summary>
public sealed record QueryPlanError(QueryError? Error);

public sealed record HistoryEntry(Guid Id, string Sql, string Status, DateTimeOffset StartedAt, long? DurationMs, long? Total);

public sealed record QueryHistory(List<HistoryEntry> Queries);

public sealed record SavedQueryEntry(Guid Id, string Title, string Description, string Sql, bool Shared, string OwnerName, bool Mine, DateTimeOffset UpdatedAt, ChartSpec? Chart);

public sealed record SavedQueries(List<SavedQueryEntry> Queries);

/// <summary>
/// The Data Explorer's JSON API, used by its page and open to scripts: run, page, cancel, download, explain, the schema
/// the user can read, their history and saved queries. Every POST takes JSON only, which a cross-site form cannot send.
/// </summary>
public static class ExplorerApi
{
    /// <summary>How long <c>/run</c> waits for a result when the caller does not say: scripts get the finished query.</summary>
    private static readonly TimeSpan DefaultWait = TimeSpan.FromMinutes(15);
    private static readonly TimeSpan MaxPollWait = TimeSpan.FromSeconds(30);

    public static void MapExplorerApi(this WebApplication app)
    {
        var api = app.MapGroup("/api/v1/explorer").RequireScope(ApiScopes.Explorer);

        api.MapPost("/run", [EndpointSummary("Run a query"), EndpointDescription("Runs SQL with your own database login: the first page of rows if it finishes quickly, else the query to poll.")] async Task<Results<Ok<QueryView>, Accepted<QueryView>, ProblemHttpResult>> (
            RunRequest request, HttpContext http, QueryRunner runner, CancellationToken cancellationToken) =>
        {
            var user = http.User;
            if (request.Wait is { } asked && !double.IsFinite(asked))
                return TypedResults.Problem(title: "The query was not run", detail: $"wait is {asked}: give the seconds to wait for the first page as a number, or leave it out to wait for the whole result.",
                    statusCode: StatusCodes.Status400BadRequest);
            Guid id;
            try
            {
                id = await runner.StartAsync(user.Id(), user.DisplayName(), user.EmailOf(), request.Sql, cancellationToken);
            }
            catch (QueryRefusedException refused)
            {
                return TypedResults.Problem(title: "The query was not run", detail: refused.Message, statusCode: StatusCodes.Status400BadRequest);
            }

            // A script that gives no wait gets the whole result's count with the first page; a wait returns as soon
            // as the first page is stored (the count follows on GET /queries/{id}).
            // A wait longer than the default is the default: a TimeSpan cannot hold every number a script may send.
            if (request.Wait is { } wait) await runner.WaitAsync(id, TimeSpan.FromSeconds(Math.Clamp(wait, 0, DefaultWait.TotalSeconds)), cancellationToken);
            else await runner.WaitAsync(id, DefaultWait, cancellationToken, untilComplete: true);
            var view = (await runner.ViewAsync(user.Id(), id, 1, cancellationToken))!;
            return view.Status == "running" ? TypedResults.Accepted((string?)null, view) : TypedResults.Ok(view);
        }).Accepts<RunRequest>("application/json")
          .ProducesProblem(StatusCodes.Status400BadRequest);

        api.MapGet("/queries/{id:guid}", [EndpointSummary("A query's state"), EndpointDescription("Whether a query you ran is still running, and its rows or error once finished.")] async Task<Results<Ok<QueryView>, ProblemHttpResult>> (
            Guid id, int? page, double? wait, HttpContext http, QueryRunner runner, CancellationToken cancellationToken) =>
        {
            if (wait is > 0) await runner.WaitAsync(id, TimeSpan.FromSeconds(Math.Min(wait.Value, MaxPollWait.TotalSeconds)), cancellationToken);
            return await runner.ViewAsync(http.User.Id(), id, page ?? 1, cancellationToken) is { } view ? TypedResults.Ok(view) : NotFound(id);
        }).ProducesProblem(StatusCodes.Status404NotFound);

        api.MapPost("/queries/{id:guid}/cancel", [EndpointSummary("Cancel a query"), EndpointDescription("Stops a query you ran that is still running.")] async Task<Results<Ok<QueryView>, ProblemHttpResult>> (
            Guid id, HttpContext http, QueryRunner runner, CancellationToken cancellationToken) =>
        {
            await runner.CancelAsync(http.User.Id(), id, cancellationToken);
            return await runner.ViewAsync(http.User.Id(), id, 1, cancellationToken) is { } view ? TypedResults.Ok(view) : NotFound(id);
        }).ProducesProblem(StatusCodes.Status404NotFound);

        api.MapGet("/queries/{id:guid}/download", [EndpointSummary("Download a result"), EndpointDescription("A finished query's whole result as CSV, JSON or Excel (format=csv|json|xlsx).")] async Task<Results<QueryResultDownload, ProblemHttpResult>> (
            Guid id, string? format, HttpContext http, QueryRunner runner, CancellationToken cancellationToken) =>
        {
            format = (format ?? "csv").ToLowerInvariant();
            if (!QueryResultDownload.Formats.Contains(format))
                return TypedResults.Problem(title: "Unknown format", detail: $"'{format}' is not a download format: use csv, json or xlsx.", statusCode: StatusCodes.Status400BadRequest);
            if (await runner.OpenResultAsync(http.User.Id(), id, cancellationToken) is not { } result)
                return TypedResults.Problem(title: "Nothing to download", detail: "This query has no rows to download: it is still running or storing its rows, failed, is not yours, or its rows were cleared. Try again in a moment, or run it again.",
                    statusCode: StatusCodes.Status404NotFound);
            return new QueryResultDownload(id, format, result.Connection, result.Table, result.Query);
        }).ProducesProblem(StatusCodes.Status400BadRequest)
          .ProducesProblem(StatusCodes.Status404NotFound);

        api.MapGet("/queries/{id:guid}/chart", [EndpointSummary("Chart a query's result"), EndpointDescription("Up to 5,000 rows of the chosen columns, evenly spaced through a finished query's stored result, with the total.")] async Task<Results<Ok<ChartData>, ProblemHttpResult>> (
            Guid id, string? x, string[]? y, HttpContext http, QueryRunner runner, CancellationToken cancellationToken) =>
        {
            var userId = http.User.Id();
            if (await runner.ViewAsync(userId, id, 1, cancellationToken) is not { } view) return NotFound(id);
            if (view.Status != "completed" || view.Columns.Count == 0)
                return TypedResults.Problem(title: "Nothing to chart", detail: "This query has no rows to chart: it is still running, failed, returned no rows, or its rows were cleared. Run it again.",
                    statusCode: StatusCodes.Status404NotFound);
            // The type does not change which rows are read: any valid one lets the columns be checked.
            var spec = new ChartSpec("bar", x, y ?? []);
            if (QueryChart.Problem(spec, view.Columns) is { } problem)
                return TypedResults.Problem(title: "The chart cannot be drawn", detail: problem, statusCode: StatusCodes.Status400BadRequest);
            var columns = new[] { x! }.Concat(y!).Select(name => view.Columns.First(c => c.Name == name)).ToList();
            return await runner.SampleAsync(userId, id, columns, cancellationToken) is { } data ? TypedResults.Ok(data) : NotFound(id);
        }).ProducesProblem(StatusCodes.Status400BadRequest)
          .ProducesProblem(StatusCodes.Status404NotFound);

        api.MapPost("/explain", [EndpointSummary("Explain a query"), EndpointDescription("PostgreSQL's plan for SQL, without running it.")] async Task<Results<Ok<QueryPlan>, BadRequest<QueryPlanError>, ProblemHttpResult>> (
            RunRequest request, HttpContext http, QueryRunner runner, CancellationToken cancellationToken) =>
        {
            try
            {
                var (plan, error) = await runner.ExplainAsync(http.User.Id(), request.Sql, cancellationToken);
                return error is null ? TypedResults.Ok(new QueryPlan(plan)) : TypedResults.BadRequest(new QueryPlanError(error));
            }
            catch (QueryRefusedException refused)
            {
                return TypedResults.Problem(title: "The query was not explained", detail: refused.Message, statusCode: StatusCodes.Status400BadRequest);
            }
        }).Accepts<RunRequest>("application/json")
          .ProducesProblem(StatusCodes.Status400BadRequest);

        api.MapGet("/schema", [EndpointSummary("Tables you can query"), EndpointDescription("The schemas, tables and columns your database login may read.")] async Task<Ok<ExplorerSchema>> (HttpContext http, DatabaseLogins logins, CancellationToken cancellationToken) =>
        {
            // information_schema shows a login only the tables it may use: the schema browser needs no rule of its own.
            var login = await logins.PortalLoginAsync(http.User.Id(), cancellationToken);
            await using var command = login.DataSource.CreateCommand("""
                SELECT table_schema, table_name, column_name, data_type FROM information_schema.columns
                WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_name NOT LIKE '\_dw\_result\_%'
                ORDER BY table_schema, table_name, ordinal_position
                """);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            var schemas = new List<SchemaEntry>();
            while (await reader.ReadAsync(cancellationToken))
            {
                var (schema, table) = (reader.GetString(0), reader.GetString(1));
                if (schemas.Count == 0 || schemas[^1].Name != schema) schemas.Add(new SchemaEntry(schema, []));
                var tables = schemas[^1].Tables;
                if (tables.Count == 0 || tables[^1].Name != table) tables.Add(new SchemaTable(table, []));
                tables[^1].Columns.Add(new SchemaColumn(reader.GetString(2), reader.GetString(3)));
            }

            return TypedResults.Ok(new ExplorerSchema(schemas));
        });

        api.MapGet("/history", [EndpointSummary("Your query history"), EndpointDescription("The last 50 queries you ran, newest first.")] async Task<Ok<QueryHistory>> (HttpContext http, CatalogueDbContext catalogue, CancellationToken cancellationToken) =>
        {
            var userId = http.User.Id();
            var queries = await catalogue.Set<ExplorerQuery>().AsNoTracking().Where(q => q.UserId == userId)
                .OrderByDescending(q => q.StartedAt).Take(50)
                .Select(q => new HistoryEntry(q.Id, q.Sql, q.Status.ToString().ToLower(), q.StartedAt, q.DurationMs, q.Total))
                .ToListAsync(cancellationToken);
            return TypedResults.Ok(new QueryHistory(queries));
        });

        api.MapGet("/saved", [EndpointSummary("Your saved queries"), EndpointDescription("The queries you saved, most recently changed first.")] async Task<Ok<SavedQueries>> (HttpContext http, CatalogueDbContext catalogue, CancellationToken cancellationToken) =>
        {
            var userId = http.User.Id();
            var queries = await catalogue.Set<SavedQuery>().AsNoTracking().Where(q => q.OwnerId == userId || q.Shared)
                .OrderByDescending(q => q.UpdatedAt).Take(200)
                .Select(q => new SavedQueryEntry(q.Id, q.Title, q.Description, q.Sql, q.Shared, q.OwnerName, q.OwnerId == userId, q.UpdatedAt, q.Chart))
                .ToListAsync(cancellationToken);
            return TypedResults.Ok(new SavedQueries(queries));
        });

        api.MapPost("/saved", [EndpointSummary("Save a query"), EndpointDescription("Saves SQL under a name, with the chart drawn from it if one is given.")] async Task<Results<Created<SavedQueryEntry>, ProblemHttpResult>> (
            SaveRequest request, HttpContext http, CatalogueDbContext catalogue, QueryRunner runner, TimeProvider time, CancellationToken cancellationToken) =>
        {
            if (await SaveProblemAsync(request, http, runner, cancellationToken) is { } problem) return problem;
            var now = time.GetUtcNow();
            var saved = new SavedQuery { OwnerId = http.User.Id(), OwnerName = http.User.DisplayName(), Title = "", Sql = "", CreatedAt = now };
            Fill(saved, request, now);
            catalogue.Add(saved);
            await catalogue.SaveChangesAsync(cancellationToken);
            return TypedResults.Created($"/api/v1/explorer/saved/{saved.Id}", EntryOf(saved));
        }).Accepts<SaveRequest>("application/json")
          .ProducesProblem(StatusCodes.Status400BadRequest);

        api.MapPut("/saved/{id:guid}", [EndpointSummary("Change a saved query"), EndpointDescription("Replaces the title, description, SQL, sharing and chart of one of your saved queries.")] async Task<Results<Ok<SavedQueryEntry>, ProblemHttpResult>> (
            Guid id, SaveRequest request, HttpContext http, CatalogueDbContext catalogue, QueryRunner runner, TimeProvider time, CancellationToken cancellationToken) =>
        {
            var userId = http.User.Id();
            if (await catalogue.Set<SavedQuery>().SingleOrDefaultAsync(q => q.Id == id && q.OwnerId == userId, cancellationToken) is not { } saved) return NotFound(id);
            if (await SaveProblemAsync(request, http, runner, cancellationToken) is { } problem) return problem;
            Fill(saved, request, time.GetUtcNow());
            await catalogue.SaveChangesAsync(cancellationToken);
            return TypedResults.Ok(EntryOf(saved));
        }).Accepts<SaveRequest>("application/json")
          .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status404NotFound);

        api.MapDelete("/saved/{id:guid}", [EndpointSummary("Delete a saved query"), EndpointDescription("Deletes one of your saved queries.")] async Task<Results<NoContent, ProblemHttpResult>> (Guid id, HttpContext http, CatalogueDbContext catalogue, CancellationToken cancellationToken) =>
        {
            var userId = http.User.Id();
            var deleted = await catalogue.Set<SavedQuery>().Where(q => q.Id == id && q.OwnerId == userId).ExecuteDeleteAsync(cancellationToken);
            return deleted == 1 ? TypedResults.NoContent() : NotFound(id);
        }).ProducesProblem(StatusCodes.Status404NotFound);
    }

    /// <summary>Why a query cannot be saved as asked (a problem to answer with), or null.</summary>
    private static async Task<ProblemHttpResult?> SaveProblemAsync(SaveRequest request, HttpContext http, QueryRunner runner, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(request.Title) || request.Title.Length > 200)
            return TypedResults.Problem(title: "The query was not saved", detail: "Give it a title of up to 200 characters.", statusCode: StatusCodes.Status400BadRequest);
        if (string.IsNullOrWhiteSpace(request.Sql) || request.Sql.Length > QueryRunner.MaxSqlLength)
            return TypedResults.Problem(title: "The query was not saved", detail: $"The SQL must be between 1 and {QueryRunner.MaxSqlLength:N0} characters.", statusCode: StatusCodes.Status400BadRequest);
        if (request.Chart is { } chart && await ChartProblemAsync(chart, request.Sql, http, runner, cancellationToken) is { } problem)
            return TypedResults.Problem(title: "The chart was not saved", detail: problem, statusCode: StatusCodes.Status400BadRequest);
        return null;
    }

    private static void Fill(SavedQuery saved, SaveRequest request, DateTimeOffset now)
    {
        var description = (request.Description ?? "").Trim();
        saved.Title = request.Title!.Trim();
        saved.Description = description.Length > 2000 ? description[..2000] : description;
        saved.Sql = request.Sql!;
        saved.Shared = request.Shared;
        saved.Chart = request.Chart;
        saved.UpdatedAt = now;
    }

    private static SavedQueryEntry EntryOf(SavedQuery saved) =>
        new(saved.Id, saved.Title, saved.Description, saved.Sql, saved.Shared, saved.OwnerName, Mine: true, saved.UpdatedAt, saved.Chart);

    /// <summary>Why the chart cannot be drawn from the query's result, found by describing the query with the user's login.</summary>
    private static async Task<string?> ChartProblemAsync(ChartSpec chart, string sql, HttpContext http, QueryRunner runner, CancellationToken cancellationToken)
    {
        if (QueryChart.ShapeProblem(chart) is { } shape) return shape;
        var (columns, error) = await runner.DescribeAsync(http.User.Id(), sql, cancellationToken);
        if (error is not null) return $"Its columns could not be checked because the query does not run: {error.Message}. Fix the query, or save it without a chart.";
        return QueryChart.Problem(chart, columns);
    }

    private static ProblemHttpResult NotFound(Guid id) =>
        TypedResults.Problem(title: "No such query", detail: $"You have no query {id}. Your history lists the ones you ran.", statusCode: StatusCodes.Status404NotFound);
}
