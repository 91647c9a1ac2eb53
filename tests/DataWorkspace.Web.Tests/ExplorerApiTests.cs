using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using DataWorkspace.Contracts;
using DataWorkspace.TestSupport;
using DataWorkspace.Web.Catalogue;
using Microsoft.Extensions.DependencyInjection;

namespace DataWorkspace.Web.Tests;

/// <summary>The Data Explorer's JSON API, as a script would use it, against a real PostgreSQL with the user's own login.</summary>
public sealed class ExplorerApiTests(WebFixture web)
{
    private readonly CatalogueData data = new(web);
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private async Task<PlatformIdentity> UserAsync()
    {
        var user = CatalogueData.NewUser("partner.example");
        await Sql.ScalarAsync<object>(web.CatalogueConnectionString,
            "INSERT INTO users (id, email, name, first_seen_at, last_seen_at) VALUES ($1, $2, $3, now(), now())", user.UserId, user.Email, user.Name);
        return user;
    }

    private Task<(HttpStatusCode Status, JsonElement Body)> SendAsync(HttpMethod method, string path, PlatformIdentity user, object? body = null) =>
        web.SendAsync(web.Factory, method, path, user, body);

    private Task<(HttpStatusCode Status, JsonElement Body)> RunAsync(PlatformIdentity user, string sql, double? wait = null) =>
        SendAsync(HttpMethod.Post, "/api/v1/explorer/run", user, wait is null ? new { sql } : new { sql, wait });

    [Fact]
    public async Task A_wait_longer_than_any_is_the_longest_and_one_that_is_not_a_number_is_refused_saying_so()
    {
        var user = await UserAsync();
        var (status, body) = await RunAsync(user, "SELECT 1", wait: 1e308);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("completed", body.GetProperty("status").GetString());

        var (refused, problem) = await SendAsync(HttpMethod.Post, "/api/v1/explorer/run", user, JsonDocument.Parse("""{"sql":"SELECT 1","wait":"NaN"}""").RootElement);
        Assert.Equal(HttpStatusCode.BadRequest, refused);
        Assert.Contains("wait is NaN", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task A_query_returns_its_first_page_and_total_and_later_pages_from_any_request()
    {
        var user = await UserAsync();
        var (status, body) = await RunAsync(user, "SELECT n, 'row ' || n AS label FROM generate_series(1, 2500) AS n ORDER BY n");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("completed", body.GetProperty("status").GetString());
        Assert.Equal(2500, body.GetProperty("total").GetInt64());
        Assert.Equal(1000, body.GetProperty("rows").GetArrayLength());
        Assert.Equal("n", body.GetProperty("columns")[0].GetProperty("name").GetString());
        Assert.Equal(1, body.GetProperty("rows")[0][0].GetInt32());

        var id = body.GetProperty("id").GetString();
        var (_, third) = await SendAsync(HttpMethod.Get, $"/api/v1/explorer/queries/{id}?page=3", user);
        Assert.Equal(500, third.GetProperty("rows").GetArrayLength());
        Assert.Equal(2001, third.GetProperty("rows")[0][0].GetInt32());
        Assert.Equal("row 2500", third.GetProperty("rows")[499][1].GetString());

        // Someone else cannot see it.
        var (other, _) = await SendAsync(HttpMethod.Get, $"/api/v1/explorer/queries/{id}", await UserAsync());
        Assert.Equal(HttpStatusCode.NotFound, other);
        var audit = await web.ScalarAsync<string>("SELECT summary FROM audit_events WHERE action = 'query.run' AND actor_id = $1", user.UserId);
        Assert.Contains("2,500 rows", audit);
    }

    [Fact]
    public async Task The_first_page_comes_while_the_rest_is_still_being_stored_and_the_count_follows()
    {
        var user = await UserAsync();
        // The first 1,000 rows come at once; the other 2,000 take at least 4 seconds.
        const string slow = "SELECT n, CASE WHEN n > 1000 THEN pg_sleep(0.002)::text END AS pause FROM generate_series(1, 3000) AS n";
        var (status, body) = await RunAsync(user, slow, wait: 30);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("completed", body.GetProperty("status").GetString());
        Assert.Equal(1000, body.GetProperty("rows").GetArrayLength());
        Assert.Equal(JsonValueKind.Null, body.GetProperty("total").ValueKind);
        var id = body.GetProperty("id").GetString();

        using (var client = web.Factory.CreateClient())
        {
            using var early = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/explorer/queries/{id}/download?format=csv");
            early.Headers.TryAddWithoutValidation(IdentityHeaders.SignedIdentity, web.Tokens().Issue(user));
            using var refused = await client.SendAsync(early, Cancel);
            Assert.Equal(HttpStatusCode.NotFound, refused.StatusCode);
            Assert.Contains("storing its rows", await refused.Content.ReadAsStringAsync(Cancel));
        }

        for (var attempt = 0; attempt < 150 && body.GetProperty("total").ValueKind == JsonValueKind.Null; attempt++)
        {
            await Task.Delay(200, Cancel);
            (_, body) = await SendAsync(HttpMethod.Get, $"/api/v1/explorer/queries/{id}?page=3", user);
        }

        Assert.Equal(3000, body.GetProperty("total").GetInt64());
        Assert.Equal(2001, body.GetProperty("rows")[0][0].GetInt32());
    }

    [Fact]
    public async Task A_query_whose_replica_stopped_is_reported_failed_instead_of_running_for_ever()
    {
        var user = await UserAsync();
        var id = Guid.NewGuid();
        await Sql.ScalarAsync<object>(web.CatalogueConnectionString,
            "INSERT INTO explorer_queries (id, user_id, sql, status, started_at, login_role, backend_pid) VALUES ($1, $2, 'SELECT 1', 'Running', now() - interval '1 hour', '_login_gone', 999999)",
            id, user.UserId);
        var (_, body) = await SendAsync(HttpMethod.Get, $"/api/v1/explorer/queries/{id}", user);
        Assert.Equal("failed", body.GetProperty("status").GetString());
        Assert.Contains("Run it again", body.GetProperty("error").GetProperty("message").GetString());
    }

    [Fact]
    public async Task Errors_say_what_PostgreSQL_said_and_where()
    {
        var user = await UserAsync();
        var (status, body) = await RunAsync(user, "SELECT 1,\n  2 FORM nowhere");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("failed", body.GetProperty("status").GetString());
        var error = body.GetProperty("error");
        Assert.Contains("syntax error at or near \"nowhere\"", error.GetProperty("message").GetString());
        Assert.Equal(2, error.GetProperty("line").GetInt32());
        Assert.Equal(10, error.GetProperty("column").GetInt32());

        var restricted = await data.DatasetAsync(AccessType.RequiresAuthorization);
        await web.Factory.Services.GetRequiredService<DataWorkspace.Web.DatabaseAccess.RoleSync>().SyncAsync(Cancel);
        var table = $"{restricted.Tables[0].Schema}.{restricted.Tables[0].Table}";
        (_, body) = await RunAsync(user, $"SELECT * FROM {table}");
        Assert.Contains("permission denied for table rows", body.GetProperty("error").GetProperty("message").GetString());
        (_, body) = await RunAsync(user, $"INSERT INTO {table} VALUES (4, 'mine')");
        Assert.Contains("permission denied for table rows", body.GetProperty("error").GetProperty("message").GetString());
        Assert.Equal(3L, await Sql.ScalarAsync<long>(web.DatasetsConnectionString, $"SELECT count(*) FROM {table}"));

        (status, body) = await RunAsync(user, "SELECT '" + new string('x', 1_000_000) + "'");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("the limit is 100,000", body.GetProperty("detail").GetString());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(15)]
    [InlineData(300)]
    public async Task Cancel_stops_the_backend_query_at_any_stage_and_cancelling_a_finished_one_is_harmless(int cancelAfterMs)
    {
        // Straight after Run (before the backend has started), between its statements, or while it sleeps.
        var user = await UserAsync();
        var (status, body) = await RunAsync(user, "SELECT pg_sleep(60)", wait: 0);
        Assert.Equal(HttpStatusCode.Accepted, status);
        var id = body.GetProperty("id").GetString();
        await Task.Delay(cancelAfterMs, Cancel);
        var started = DateTime.UtcNow;
        (_, body) = await SendAsync(HttpMethod.Post, $"/api/v1/explorer/queries/{id}/cancel", user);
        Assert.True(body.GetProperty("status").GetString() == "cancelled", body.ToString());
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(10));
        Assert.Equal(0L, await Sql.ScalarAsync<long>(web.DatasetsConnectionString, "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid()"));

        (_, body) = await RunAsync(user, "SELECT 1 AS one");
        (status, body) = await SendAsync(HttpMethod.Post, $"/api/v1/explorer/queries/{body.GetProperty("id").GetString()}/cancel", user);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("completed", body.GetProperty("status").GetString());
        Assert.Equal(1, body.GetProperty("rows")[0][0].GetInt32());
    }

    [Fact]
    public async Task Saved_queries_are_the_owners_and_shared_ones_are_listed_for_colleagues()
    {
        var owner = await UserAsync();
        var colleague = await UserAsync();
        var (status, _) = await SendAsync(HttpMethod.Post, "/api/v1/explorer/saved", owner, new { title = "", sql = "SELECT 1" });
        Assert.Equal(HttpStatusCode.BadRequest, status);
        var (created, kept) = await SendAsync(HttpMethod.Post, "/api/v1/explorer/saved", owner, new { title = "Private one", sql = "SELECT 1", shared = false });
        Assert.Equal(HttpStatusCode.Created, created);
        await SendAsync(HttpMethod.Post, "/api/v1/explorer/saved", owner, new { title = "Shared one", description = "for all", sql = "SELECT 2", shared = true });

        var (_, list) = await SendAsync(HttpMethod.Get, "/api/v1/explorer/saved", colleague);
        var titles = list.GetProperty("queries").EnumerateArray().Select(q => q.GetProperty("title").GetString()).ToList();
        Assert.Contains("Shared one", titles);
        Assert.DoesNotContain("Private one", titles);
        var (denied, _) = await SendAsync(HttpMethod.Delete, $"/api/v1/explorer/saved/{kept.GetProperty("id").GetString()}", colleague);
        Assert.Equal(HttpStatusCode.NotFound, denied);
        var (deleted, _) = await SendAsync(HttpMethod.Delete, $"/api/v1/explorer/saved/{kept.GetProperty("id").GetString()}", owner);
        Assert.Equal(HttpStatusCode.NoContent, deleted);
    }

    [Fact]
    public async Task A_chart_is_saved_with_its_query_and_comes_back_with_it()
    {
        var user = await UserAsync();
        const string sql = "SELECT 'week ' || n AS week, n * 2 AS orders, n * 1.5 AS revenue, 'note' AS note FROM generate_series(1, 5) AS n";
        var chart = new { type = "line", x = "week", y = new[] { "orders", "revenue" } };
        var (created, saved) = await SendAsync(HttpMethod.Post, "/api/v1/explorer/saved", user, new { title = "Orders by week", sql, chart });
        Assert.Equal(HttpStatusCode.Created, created);
        Assert.Equal("line", saved.GetProperty("chart").GetProperty("type").GetString());

        var (_, list) = await SendAsync(HttpMethod.Get, "/api/v1/explorer/saved", user);
        var kept = list.GetProperty("queries").EnumerateArray().Single(q => q.GetProperty("title").GetString() == "Orders by week").GetProperty("chart");
        Assert.Equal("week", kept.GetProperty("x").GetString());
        Assert.Equal(["orders", "revenue"], kept.GetProperty("y").EnumerateArray().Select(y => y.GetString()));

        var (plain, without) = await SendAsync(HttpMethod.Post, "/api/v1/explorer/saved", user, new { title = "No chart", sql = "SELECT 1" });
        Assert.Equal(HttpStatusCode.Created, plain);
        Assert.Equal(JsonValueKind.Null, without.GetProperty("chart").ValueKind);
    }

    [Fact]
    public async Task The_owner_changes_a_saved_query_and_its_chart_in_place_and_nobody_else_can()
    {
        var owner = await UserAsync();
        var colleague = await UserAsync();
        const string sql = "SELECT 'week ' || n AS week, n * 2 AS orders, n * 1.5 AS revenue FROM generate_series(1, 5) AS n";
        var (_, saved) = await SendAsync(HttpMethod.Post, "/api/v1/explorer/saved", owner,
            new { title = "Orders", sql, shared = true, chart = new { type = "bar", x = "week", y = new[] { "orders" } } });
        var path = $"/api/v1/explorer/saved/{saved.GetProperty("id").GetString()}";

        var (changed, entry) = await SendAsync(HttpMethod.Put, path, owner,
            new { title = "Orders and revenue", sql, shared = true, chart = new { type = "line", x = "week", y = new[] { "orders", "revenue" } } });
        var (byColleague, _) = await SendAsync(HttpMethod.Put, path, colleague, new { title = "Mine now", sql = "SELECT 1", shared = true });
        var (badChart, problem) = await SendAsync(HttpMethod.Put, path, owner, new { title = "Orders", sql, shared = true, chart = new { type = "bar", x = "week", y = new[] { "profit" } } });
        var (unknown, _) = await SendAsync(HttpMethod.Put, $"/api/v1/explorer/saved/{Guid.NewGuid()}", owner, new { title = "Nothing", sql = "SELECT 1" });

        Assert.Equal(HttpStatusCode.OK, changed);
        Assert.Equal("line", entry.GetProperty("chart").GetProperty("type").GetString());
        Assert.Equal(HttpStatusCode.NotFound, byColleague);
        Assert.Equal(HttpStatusCode.BadRequest, badChart);
        Assert.Contains("no column 'profit'", problem.GetProperty("detail").GetString());
        Assert.Equal(HttpStatusCode.NotFound, unknown);
        // One query, as its owner last saved it, and no copy.
        var (_, list) = await SendAsync(HttpMethod.Get, "/api/v1/explorer/saved", owner);
        var mine = list.GetProperty("queries").EnumerateArray().Where(q => q.GetProperty("mine").GetBoolean()).ToList();
        Assert.Equal(["Orders and revenue"], mine.Select(q => q.GetProperty("title").GetString()));
        Assert.Equal(["orders", "revenue"], mine[0].GetProperty("chart").GetProperty("y").EnumerateArray().Select(y => y.GetString()));
    }

    [Theory]
    [InlineData("donut", "week", "orders", "'donut' is not a chart type: use bar, line, scatter or pie.")]
    [InlineData("bar", "month", "orders", "The query has no column 'month'. Its columns are week, orders, note.")]
    [InlineData("bar", "week", "revenue", "The query has no column 'revenue'.")]
    [InlineData("bar", "week", "note", "Column 'note' holds text, not numbers")]
    [InlineData("bar", "", "orders", "Pick the column for the x axis.")]
    [InlineData("pie", "week", "", "Pick the numeric column that sizes the slices.")]
    public async Task A_chart_that_cannot_be_drawn_from_the_query_is_refused_with_the_reason(string type, string x, string y, string reason)
    {
        var user = await UserAsync();
        const string sql = "SELECT 'week ' || n AS week, n * 2 AS orders, 'note' AS note FROM generate_series(1, 5) AS n";
        var (status, problem) = await SendAsync(HttpMethod.Post, "/api/v1/explorer/saved", user,
            new { title = "Refused", sql, chart = new { type, x, y = y.Length == 0 ? Array.Empty<string>() : [y] } });
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("The chart was not saved", problem.GetProperty("title").GetString());
        Assert.Contains(reason, problem.GetProperty("detail").GetString());
        // Nothing of this user's was saved (other tests' shared queries are listed to everyone).
        var (_, list) = await SendAsync(HttpMethod.Get, "/api/v1/explorer/saved", user);
        Assert.DoesNotContain(list.GetProperty("queries").EnumerateArray(), q => q.GetProperty("mine").GetBoolean());
    }

    [Fact]
    public async Task A_chart_of_a_query_that_does_not_run_or_returns_no_rows_is_refused()
    {
        var user = await UserAsync();
        var chart = new { type = "bar", x = "a", y = new[] { "b" } };
        var (broken, problem) = await SendAsync(HttpMethod.Post, "/api/v1/explorer/saved", user, new { title = "Broken", sql = "SELECT a, b FROM no_such_table", chart });
        Assert.Equal(HttpStatusCode.BadRequest, broken);
        Assert.Contains("no_such_table", problem.GetProperty("detail").GetString());
        var (command, noRows) = await SendAsync(HttpMethod.Post, "/api/v1/explorer/saved", user, new { title = "Command", sql = "CREATE TABLE t (a int)", chart });
        Assert.Equal(HttpStatusCode.BadRequest, command);
        Assert.Contains("returns no rows to chart", noRows.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task A_large_result_is_sampled_evenly_for_its_chart_and_says_how_many_rows_there_are()
    {
        var user = await UserAsync();
        var (_, large) = await RunAsync(user, "SELECT n, n * 10 AS tenfold, 'label ' || n AS label FROM generate_series(1, 20000) AS n ORDER BY n");
        var id = large.GetProperty("id").GetString();
        var (status, data) = await SendAsync(HttpMethod.Get, $"/api/v1/explorer/queries/{id}/chart?x=n&y=tenfold", user);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(20000, data.GetProperty("total").GetInt64());
        Assert.Equal(["n", "tenfold"], data.GetProperty("columns").EnumerateArray().Select(c => c.GetProperty("name").GetString()));
        var xs = data.GetProperty("rows").EnumerateArray().Select(row => row[0].GetInt32()).ToList();
        Assert.Equal(5000, xs.Count);
        // Every fourth row, from the first to near the last, in the result's order.
        Assert.Equal(Enumerable.Range(0, 5000).Select(i => 1 + 4 * i), xs);
        Assert.Equal(199970, data.GetProperty("rows")[4999][1].GetInt64());

        var (_, small) = await RunAsync(user, "SELECT n, n * 10 AS tenfold FROM generate_series(1, 300) AS n ORDER BY n");
        var (_, all) = await SendAsync(HttpMethod.Get, $"/api/v1/explorer/queries/{small.GetProperty("id").GetString()}/chart?x=n&y=tenfold", user);
        Assert.Equal(300, all.GetProperty("rows").GetArrayLength());
        Assert.Equal(300, all.GetProperty("total").GetInt64());

        var (unknown, problem) = await SendAsync(HttpMethod.Get, $"/api/v1/explorer/queries/{id}/chart?x=n&y=nope", user);
        Assert.Equal(HttpStatusCode.BadRequest, unknown);
        Assert.Contains("no column 'nope'", problem.GetProperty("detail").GetString());
        var (text, notNumbers) = await SendAsync(HttpMethod.Get, $"/api/v1/explorer/queries/{id}/chart?x=n&y=label", user);
        Assert.Equal(HttpStatusCode.BadRequest, text);
        Assert.Contains("not numbers", notNumbers.GetProperty("detail").GetString());
        var (other, _) = await SendAsync(HttpMethod.Get, $"/api/v1/explorer/queries/{id}/chart?x=n&y=tenfold", await UserAsync());
        Assert.Equal(HttpStatusCode.NotFound, other);
    }

    [Fact]
    public async Task Results_download_as_csv_json_and_xlsx_and_the_schema_lists_only_readable_tables()
    {
        var user = await UserAsync();
        var readable = await data.DatasetAsync(AccessType.Open);
        var hidden = await data.DatasetAsync(AccessType.RequiresAuthorization);
        var (_, body) = await RunAsync(user, "SELECT n, n * 2 AS twice FROM generate_series(1, 3) AS n");
        var id = body.GetProperty("id").GetString();

        using var client = web.Factory.CreateClient();
        async Task<HttpResponseMessage> Download(string format)
        {
            var request = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/explorer/queries/{id}/download?format={format}");
            request.Headers.TryAddWithoutValidation(IdentityHeaders.SignedIdentity, web.Tokens().Issue(user));
            return await client.SendAsync(request, Cancel);
        }

        Assert.Equal("n,twice\n1,2\n2,4\n3,6\n", await (await Download("csv")).Content.ReadAsStringAsync(Cancel));
        var json = JsonDocument.Parse(await (await Download("json")).Content.ReadAsStringAsync(Cancel)).RootElement;
        Assert.Equal(6, json[2].GetProperty("twice").GetInt32());
        var xlsx = await Download("xlsx");
        Assert.Equal("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", xlsx.Content.Headers.ContentType?.MediaType);
        using (var workbook = DocumentFormat.OpenXml.Packaging.SpreadsheetDocument.Open(new MemoryStream(await xlsx.Content.ReadAsByteArrayAsync(Cancel)), isEditable: false))
        {
            var last = workbook.WorkbookPart!.WorksheetParts.Single().Worksheet!.Descendants<DocumentFormat.OpenXml.Spreadsheet.Row>().Last();
            Assert.Equal(["3", "6"], last.Elements<DocumentFormat.OpenXml.Spreadsheet.Cell>().Select(c => c.CellValue?.Text));
            Assert.All(last.Elements<DocumentFormat.OpenXml.Spreadsheet.Cell>(), c => Assert.Null(c.DataType));
        }

        var (_, schema) = await SendAsync(HttpMethod.Get, "/api/v1/explorer/schema", user);
        var names = schema.GetProperty("schemas").EnumerateArray().Select(s => s.GetProperty("name").GetString()).ToList();
        Assert.Contains(readable.Tables[0].Schema, names);
        Assert.DoesNotContain(hidden.Tables[0].Schema, names);
    }
}
