using System.Net;
using DataWorkspace.Contracts;
using DataWorkspace.Security;
using DataWorkspace.TestSupport;
using DataWorkspace.Web.Audit;
using DataWorkspace.Web.Catalogue;
using DataWorkspace.Web.Data;
using DataWorkspace.Web.ReferenceData;
using DataWorkspace.Web.ToolsAccess;
using Microsoft.AspNetCore.Hosting;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace DataWorkspace.Web.Tests;

/// <summary>Reference data uploads, tools access and the admin-only pages, on a real PostgreSQL.</summary>
public sealed class AdminAndReferenceDataTests(WebFixture web) : IAsyncDisposable
{
    private readonly CatalogueData data = new(web);
    private readonly PlatformScope app = new(web);
    private readonly PlatformIdentity admin = CatalogueData.NewUser("trade.example") with { Roles = [PlatformIdentity.AdminRole] };
    private readonly PlatformIdentity analyst = CatalogueData.NewUser("trade.example");
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private async Task<(Dataset Dataset, ReferenceTable Table)> ReferenceTableAsync()
    {
        var dataset = await data.DatasetAsync(AccessType.Open);
        var table = new ReferenceTable
        {
            DatasetId = dataset.Id,
            TableName = "test_" + Guid.NewGuid().ToString("N")[..12],
            Columns = [new("code", ReferenceColumnType.Text, true), new("population", ReferenceColumnType.Integer, false), new("joined", ReferenceColumnType.Date, false)],
        };
        await using var context = data.Context();
        context.ReferenceTables.Add(table);
        await context.SaveChangesAsync(Cancel);
        return (dataset, table);
    }

    private Task<ReferenceChange> UploadAsync(Dataset dataset, string csv) =>
        app.WithAsync<ReferenceDataService, ReferenceChange>(async reference =>
            await reference.ReplaceFromCsvAsync((await reference.FindAsync(dataset.Id, Cancel))!, dataset, csv, PlatformScope.Principal(admin), Cancel));

    [Fact]
    public async Task An_upload_over_the_pages_limit_is_refused_as_too_large_saying_so_and_nothing_changes()
    {
        var (dataset, table) = await ReferenceTableAsync();
        using var client = web.Factory.CreateClient(new Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        client.DefaultRequestHeaders.TryAddWithoutValidation(IdentityHeaders.SignedIdentity, web.Tokens().Issue(admin));
        var page = await client.GetStringAsync($"/admin/reference/{dataset.Id}", Cancel);
        var antiforgery = System.Text.RegularExpressions.Regex.Match(page, "name=\"__RequestVerificationToken\" type=\"hidden\" value=\"([^\"]*)\"").Groups[1].Value;
        using var form = new MultipartFormDataContent
        {
            { new StringContent(antiforgery), "__RequestVerificationToken" },
            { new ByteArrayContent(System.Text.Encoding.UTF8.GetBytes("code,population,joined\n" + string.Concat(Enumerable.Repeat("FR,67000000,1958-01-01\n", 500_000)))), "file", "big.csv" },
        };
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/admin/reference/{dataset.Id}?handler=Upload") { Content = form };
        request.Headers.TryAddWithoutValidation("Origin", RequestOrigin.Of(web.Factory.Services.GetRequiredService<DataWorkspace.Web.Portal.PortalLinks>().Root));
        using var response = await client.SendAsync(request, Cancel);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Contains("larger than this page takes", WebUtility.HtmlDecode(await response.Content.ReadAsStringAsync(Cancel)));
        Assert.Equal(0L, await web.ScalarAsync<long>("SELECT count(*) FROM reference_rows WHERE reference_table_id = $1", table.Id));
    }

    [Fact]
    public async Task A_good_csv_replaces_the_rows_and_the_mirror_table_with_typed_columns()
    {
        var (dataset, table) = await ReferenceTableAsync();

        var change = await UploadAsync(dataset, "population,code,joined\r\n67000000,FR,1958-01-01\n\"83,000,000\",\"DE\",\n");

        Assert.True(change.Done, string.Join("; ", change.Errors));
        Assert.Equal(1L, await Sql.ScalarAsync<long>(web.DatasetsConnectionString, $"SELECT count(*) FROM reference.{table.TableName} WHERE code = 'FR' AND population = 67000000 AND joined = date '1958-01-01'"));
        Assert.Equal("date", await Sql.ScalarAsync<string>(web.DatasetsConnectionString, "SELECT data_type FROM information_schema.columns WHERE table_schema = 'reference' AND table_name = $1 AND column_name = 'joined'", table.TableName));
        Assert.Contains(AuditActions.ReferenceDataChanged, await ActionsAsync(dataset));
    }

    [Fact]
    public async Task A_csv_with_bad_rows_names_every_one_and_imports_nothing()
    {
        var (dataset, table) = await ReferenceTableAsync();
        Assert.True((await UploadAsync(dataset, "code,population,joined\nFR,67000000,1958-01-01\n")).Done);

        var change = await UploadAsync(dataset, "code,population,joined\nIE,5000000,1973-01-01\nXX,lots,2020-01-01\n,1,\nES,47000000,1 Jan 1986\nPT,10000000\n");

        Assert.False(change.Done);
        Assert.Equal(
        [
            "Line 3: 'population' must be a whole number, not 'lots'.",
            "Line 4: 'code' is required.",
            "Line 5: 'joined' must be a date as YYYY-MM-DD, not '1 Jan 1986'.",
            "Line 6: 2 values, but the header has 3 columns.",
        ], change.Errors);
        Assert.Equal("FR", await Sql.ScalarAsync<string>(web.DatasetsConnectionString, $"SELECT string_agg(code, ',') FROM reference.{table.TableName}"));
        Assert.Equal(1L, await web.ScalarAsync<long>("SELECT count(*) FROM reference_rows WHERE reference_table_id = $1", table.Id));
    }

    [Fact]
    public async Task A_csv_with_a_NUL_in_a_cell_names_the_line_and_imports_nothing()
    {
        var (dataset, table) = await ReferenceTableAsync();
        Assert.True((await UploadAsync(dataset, "code,population,joined\nFR,67000000,1958-01-01\n")).Done);

        var change = await UploadAsync(dataset, "code,population,joined\nDE,83000000,\nI\0E,5000000,1973-01-01\n");

        Assert.False(change.Done);
        Assert.Equal(["Line 3: 'code' contains a NUL character (U+0000), which cannot be stored; remove it."], change.Errors);
        Assert.Equal(1L, await web.ScalarAsync<long>("SELECT count(*) FROM reference_rows WHERE reference_table_id = $1", table.Id));
    }

    [Fact]
    public async Task A_csv_with_the_wrong_columns_says_which_and_what_the_header_must_be()
    {
        var (dataset, _) = await ReferenceTableAsync();

        var change = await UploadAsync(dataset, "code,people\nFR,1\n");

        Assert.Equal(
        [
            "Line 1: the columns 'population', 'joined' are missing. The header must be: code,population,joined",
            "Line 1: the columns 'people' are not in this table. The header must be: code,population,joined",
        ], change.Errors);
    }

    [Fact]
    public async Task Training_gives_tools_access_for_a_year_and_the_sweep_removes_it_when_it_lapses()
    {
        await app.SignInAsync(analyst);
        var principal = PlatformScope.Principal(analyst);
        var today = DateOnly.FromDateTime(DateTime.UtcNow);

        var stale = await app.WithAsync<ToolsAccessService, string?>(t => t.SelfCertifyAsync(principal, today.AddDays(-400), true, Cancel));
        var future = await app.WithAsync<ToolsAccessService, string?>(t => t.SelfCertifyAsync(principal, today.AddDays(1), true, Cancel));
        var accepted = await app.WithAsync<ToolsAccessService, string?>(t => t.SelfCertifyAsync(principal, today.AddDays(-30), true, Cancel));

        Assert.Contains("more than a year old", stale);
        Assert.Contains("cannot be in the future", future);
        Assert.Null(accepted);
        Assert.Contains("You can use tools until", await app.PageAsync("/tools-access", analyst));

        app.Clock.Advance(TimeSpan.FromDays(340));
        // Other tests' sweeps take the same advisory lock: sweep until ours has run.
        for (var attempt = 0; attempt < 50 && await web.ScalarAsync<long>("SELECT count(*) FROM tools_permissions WHERE user_id = $1", analyst.UserId) > 0; attempt++)
        {
            if (attempt > 0) await Task.Delay(100, Cancel);
            await app.WithAsync<Web.AccessRequests.ExpirySweeper, (int, int)>(s => s.SweepAsync(Cancel));
        }

        Assert.Null(await app.WithAsync<ToolsAccessService, ToolsPermission?>(t => t.ActivePermissionAsync(analyst.UserId, Cancel)));
        var actions = await web.ScalarAsync<string>("SELECT string_agg(action, ',' ORDER BY id) FROM audit_events WHERE subject_user_id = $1", analyst.UserId);
        Assert.Equal($"{AuditActions.ToolsAccessCertified},{AuditActions.ToolsAccessLapsed}", actions);
    }

    [Theory]
    [InlineData("/admin")]
    [InlineData("/admin/datasets")]
    [InlineData("/admin/users")]
    [InlineData("/admin/requests")]
    [InlineData("/admin/teams")]
    [InlineData("/admin/audit")]
    [InlineData("/admin/audit/export.csv")]
    public async Task Admin_pages_are_refused_to_analysts_and_open_to_admins(string path)
    {
        var asAnalyst = await web.GetAsync(path, analyst);
        var asAdmin = await web.GetAsync(path, admin);

        Assert.Equal(HttpStatusCode.Forbidden, asAnalyst.StatusCode);
        Assert.Equal(HttpStatusCode.OK, asAdmin.StatusCode);
    }

    [Fact]
    public async Task An_email_in_the_configured_admin_list_is_an_admin_without_the_role()
    {
        await using var factory = web.Factory.WithWebHostBuilder(host =>
            host.UseSetting("Admin:Emails:0", analyst.Email));
        using var client = factory.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/admin/users");
        request.Headers.TryAddWithoutValidation(IdentityHeaders.SignedIdentity, web.Tokens().Issue(analyst));

        using var response = await client.SendAsync(request, Cancel);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task An_admin_makes_a_team_and_its_member_can_write_in_the_team_schema()
    {
        var member = CatalogueData.NewUser("trade.example");
        await app.SignInAsync(admin, member);
        using var client = web.Factory.CreateClient(new() { AllowAutoRedirect = false });
        client.DefaultRequestHeaders.TryAddWithoutValidation(IdentityHeaders.SignedIdentity, web.Tokens().Issue(admin));
        async Task<HttpResponseMessage> PostAsync(string handler, Dictionary<string, string> form)
        {
            var page = await client.GetStringAsync("/admin/teams", Cancel);
            form["__RequestVerificationToken"] = System.Text.RegularExpressions.Regex.Match(page, "name=\"__RequestVerificationToken\" type=\"hidden\" value=\"([^\"]*)\"").Groups[1].Value;
            return await client.PostAsync($"/admin/teams?handler={handler}", new FormUrlEncodedContent(form), Cancel);
        }

        var slug = "analysts_" + Guid.NewGuid().ToString("N")[..8];
        var bad = await PostAsync("Create", new() { ["name"] = "Bad", ["slug"] = "Not a schema!" });
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("cannot name a schema", await bad.Content.ReadAsStringAsync(Cancel));
        Assert.Equal(HttpStatusCode.Redirect, (await PostAsync("Create", new() { ["name"] = "Trade analysts", ["slug"] = slug })).StatusCode);
        var teamId = await web.ScalarAsync<Guid>("SELECT id FROM teams WHERE slug = $1", slug);
        Assert.Equal(HttpStatusCode.Redirect, (await PostAsync("Add", new() { ["team"] = teamId.ToString(), ["email"] = member.Email })).StatusCode);

        await web.Factory.Services.GetRequiredService<DataWorkspace.Web.DatabaseAccess.RoleSync>().SyncAsync(Cancel);
        var login = await web.Factory.Services.GetRequiredService<DataWorkspace.Web.DatabaseAccess.DatabaseLogins>().PortalLoginAsync(member.UserId, Cancel);
        await using var command = login.DataSource.CreateCommand($"CREATE TABLE \"_team_{slug}\".findings AS SELECT 1 AS x; SELECT count(*) FROM \"_team_{slug}\".findings");
        Assert.Equal(1L, await command.ExecuteScalarAsync(Cancel));
        Assert.Contains("added to team 'Trade analysts'", await web.ScalarAsync<string>("SELECT string_agg(summary, ';') FROM audit_events WHERE action = 'team.changed' AND actor_id = $1", admin.UserId));
    }

    [Fact]
    public async Task The_audit_export_is_csv_filtered_like_the_page()
    {
        var (dataset, _) = await ReferenceTableAsync();
        await UploadAsync(dataset, "code,population,joined\nFR,1,\n");

        var response = await web.GetAsync($"/admin/audit/export.csv?dataset={dataset.Slug}", admin);
        var csv = await response.Content.ReadAsStringAsync(Cancel);

        Assert.Equal("text/csv", response.Content.Headers.ContentType?.MediaType);
        var lines = csv.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("id,at,action,actor_id,actor_email", lines[0]);
        Assert.Single(lines[1..]);
        Assert.Contains(AuditActions.ReferenceDataChanged, lines[1]);
        Assert.Contains(admin.Email, lines[1]);
    }

    private async Task<List<string>> ActionsAsync(Dataset dataset)
    {
        await using var context = data.Context();
        return await context.AuditEvents.Where(e => e.DatasetId == dataset.Id).Select(e => e.Action).ToListAsync(Cancel);
    }

    public ValueTask DisposeAsync() => app.DisposeAsync();
}
