using System.Text;
using System.Text.RegularExpressions;
using DataWorkspace.TestSupport;
using Microsoft.Playwright;

namespace DataWorkspace.EndToEnd.Tests;

/// <summary>
/// The access journey in a real browser through the proxy: Tom asks for a restricted dataset, Priya (its owner)
/// approves, Tom sees the rows, time passes and the access ends, Priya gives and then removes access, and Morgan (an
/// admin) uploads reference data with a bad row and reads the audit log.
/// </summary>
public sealed class BrowserAccessJourneyTests(PlatformFixture fixture) : BrowserTest
{
    private const string Tom = "tom.evans@partner.example";
    private const string Priya = "priya.shah@trade.example";
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Request_approve_preview_expire_grant_revoke_and_a_reference_upload_with_a_bad_row()
    {
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var slug = $"journey-{suffix}";
        await AddRestrictedDatasetAsync(slug, suffix);
        var tom = await SignInAsync("Tom Evans");
        var priya = await SignInAsync("Priya Shah");

        // Tom asks: eligibility, reason and duration, summary, send.
        await tom.GotoAsync($"{fixture.Platform.PortalUrl}datasets/{slug}");
        await Assertions.Expect(tom.GetByTestId("preview-hidden")).ToBeVisibleAsync();
        await Browser.AssertAccessibleAsync(tom);
        await tom.GetByTestId("request-access").ClickAsync();
        await Assertions.Expect(tom.GetByTestId("criteria")).ToContainTextAsync("I work on trade policy");
        await Browser.AssertAccessibleAsync(tom);
        // Continuing without an answer: the error summary's link takes Tom to the question.
        await tom.GetByRole(AriaRole.Button, new() { Name = "Continue" }).ClickAsync();
        await Assertions.Expect(tom).ToHaveTitleAsync(new Regex("^Error: "));
        await Browser.AssertAccessibleAsync(tom);
        await tom.Locator(".govuk-error-summary").GetByRole(AriaRole.Link, new() { Name = "Select whether you meet the criteria." }).ClickAsync();
        await Assertions.Expect(tom.GetByLabel("Yes, I meet all of them")).ToBeFocusedAsync();
        await tom.GetByLabel("Yes, I meet all of them").CheckAsync();
        await tom.GetByRole(AriaRole.Button, new() { Name = "Continue" }).ClickAsync();
        await Browser.AssertAccessibleAsync(tom);
        await tom.GetByRole(AriaRole.Button, new() { Name = "Continue" }).ClickAsync();
        await Assertions.Expect(tom.Locator("#Reason-error")).ToContainTextAsync("Say why you need this data");
        await Browser.AssertAccessibleAsync(tom);
        await tom.Locator(".govuk-error-summary").GetByRole(AriaRole.Link, new() { NameRegex = new Regex("^Say why you need this data") }).ClickAsync();
        await Assertions.Expect(tom.GetByLabel("Your reason")).ToBeFocusedAsync();
        await tom.GetByLabel("Your reason").FillAsync("Modelling the effect of tariffs on <b>exports</b>");
        await tom.GetByLabel("1 month").CheckAsync();
        await tom.GetByRole(AriaRole.Button, new() { Name = "Continue" }).ClickAsync();
        await Assertions.Expect(tom.GetByTestId("summary")).ToContainTextAsync("Modelling the effect of tariffs on <b>exports</b>");
        await Browser.AssertAccessibleAsync(tom);
        await tom.GetByTestId("send-request").ClickAsync();
        await Assertions.Expect(tom.GetByTestId("request-sent")).ToBeVisibleAsync();
        await Assertions.Expect(tom.GetByTestId($"request-{slug}").GetByTestId("status")).ToHaveTextAsync("Pending");
        await Browser.AssertAccessibleAsync(tom);
        await Browser.SaveScreenshotAsync(tom, "journey-1-request-sent");

        // Priya sees it waiting for her and approves it.
        await priya.GotoAsync($"{fixture.Platform.PortalUrl}requests");
        await Browser.AssertAccessibleAsync(priya);
        await priya.GetByTestId("awaiting-me").GetByRole(AriaRole.Row).Filter(new() { HasText = $"Journey {suffix}" }).GetByRole(AriaRole.Link, new() { Name = "Review" }).ClickAsync();
        await Assertions.Expect(priya.GetByTestId("reason")).ToContainTextAsync("Modelling the effect of tariffs");
        await Browser.AssertAccessibleAsync(priya);
        await priya.GetByTestId("approve").ClickAsync();
        await Assertions.Expect(priya.GetByTestId("decision-done")).ToContainTextAsync("Approved: Tom Evans can use");
        await Browser.AssertAccessibleAsync(priya);
        await Browser.SaveScreenshotAsync(priya, "journey-2-approved");

        // Tom now sees the rows.
        await tom.GotoAsync($"{fixture.Platform.PortalUrl}datasets/{slug}");
        await Assertions.Expect(tom.GetByTestId("preview")).ToContainTextAsync($"first-{suffix}");
        await Assertions.Expect(tom.GetByTestId("access-status")).ToContainTextAsync("You have access to this data until");
        await Browser.AssertAccessibleAsync(tom);

        // Forty days pass: the access has ended, the sweep records it, and Tom's request says so.
        try
        {
            await fixture.Platform.MoveClockAsync(TimeSpan.FromDays(40));
            // The sweep runs every second in tests; reload the requests page until it has.
            var status = "";
            for (var attempt = 0; attempt < 30 && status != "Expired"; attempt++)
            {
                if (attempt > 0) await Task.Delay(500, Cancel);
                await tom.GotoAsync($"{fixture.Platform.PortalUrl}requests");
                status = await tom.GetByTestId($"request-{slug}").GetByTestId("status").InnerTextAsync();
            }

            Assert.Equal("Expired", status);
            await tom.GotoAsync($"{fixture.Platform.PortalUrl}datasets/{slug}");
            await Assertions.Expect(tom.GetByTestId("access-status")).ToContainTextAsync("Your access to this data ended on");
            await Assertions.Expect(tom.GetByTestId("preview")).ToHaveCountAsync(0);
        }
        finally
        {
            await fixture.Platform.MoveClockAsync(TimeSpan.Zero);
        }

        // Priya gives Tom access again by name, then takes it away.
        await priya.GotoAsync($"{fixture.Platform.PortalUrl}datasets/{slug}");
        await priya.GetByTestId("manage-access").ClickAsync();
        await Browser.AssertAccessibleAsync(priya);
        // Giving access without an email: the error links to the field.
        await priya.GetByRole(AriaRole.Button, new() { Name = "Give access" }).ClickAsync();
        await Assertions.Expect(priya.Locator("#email-error")).ToContainTextAsync("Enter the email of the person to give access to.");
        await Browser.AssertAccessibleAsync(priya);
        await priya.GetByLabel("Their email").FillAsync(Tom);
        await priya.GetByRole(AriaRole.Button, new() { Name = "Give access" }).ClickAsync();
        await Assertions.Expect(priya.GetByTestId($"access-{Tom}")).ToBeVisibleAsync();
        await tom.GotoAsync($"{fixture.Platform.PortalUrl}datasets/{slug}");
        await Assertions.Expect(tom.GetByTestId("preview")).ToBeVisibleAsync();
        await priya.GetByTestId($"access-{Tom}").GetByTestId("revoke").ClickAsync();
        await Assertions.Expect(priya.GetByTestId("manage-message")).ToContainTextAsync($"{Tom} can no longer use this data");
        await Browser.AssertAccessibleAsync(priya);
        await tom.GotoAsync($"{fixture.Platform.PortalUrl}datasets/{slug}");
        await Assertions.Expect(tom.GetByTestId("access-status")).ToContainTextAsync("Your access to this data was removed");
        await Assertions.Expect(tom.GetByTestId("preview")).ToHaveCountAsync(0);
        await Browser.SaveScreenshotAsync(tom, "journey-3-revoked");

        // Morgan, an admin, defines a reference table and uploads a CSV with one bad row: told which, nothing imported.
        var morgan = await SignInAsync("Morgan Lee");
        var referenceId = await AddReferenceDatasetAsync(suffix);
        await morgan.GotoAsync($"{fixture.Platform.PortalUrl}admin/reference/{referenceId}");
        await Browser.AssertAccessibleAsync(morgan);
        await morgan.GetByLabel("Table name").FillAsync($"ports_{suffix}");
        await morgan.GetByLabel("Columns").FillAsync("code:text:required\nname:text:required\ntonnage:integer");
        await morgan.GetByRole(AriaRole.Button, new() { Name = "Create the table" }).ClickAsync();
        await morgan.Locator("#file").SetInputFilesAsync(new FilePayload
        {
            Name = "ports.csv", MimeType = "text/csv",
            Buffer = Encoding.UTF8.GetBytes("code,name,tonnage\nGBFXT,Felixstowe,25000000\nGBSOU,Southampton,a lot\nGBDVR,Dover,\n"),
        });
        await morgan.GetByTestId("upload-csv").ClickAsync();
        await Assertions.Expect(morgan.GetByTestId("csv-errors").GetByRole(AriaRole.Listitem)).ToHaveTextAsync(["Line 3: 'tonnage' must be a whole number, not 'a lot'."]);
        await Assertions.Expect(morgan.GetByRole(AriaRole.Heading, new() { Name = "Rows (0)" })).ToBeVisibleAsync();
        await Browser.AssertAccessibleAsync(morgan);
        await Browser.SaveScreenshotAsync(morgan, "journey-4-csv-error");

        // The audit log holds each step, and Morgan can read it.
        await morgan.GotoAsync($"{fixture.Platform.PortalUrl}admin/audit?dataset={slug}");
        var log = morgan.GetByTestId("audit-events");
        await Browser.AssertAccessibleAsync(morgan);
        foreach (var action in new[] { "access.requested", "access.granted", "access.expired", "access.revoked" })
            await Assertions.Expect(log).ToContainTextAsync(action);
        var signIns = await fixture.Platform.CatalogueScalarAsync<long>("SELECT count(*) FROM audit_events WHERE action = 'signed-in' AND actor_email = $1", Tom);
        Assert.True(signIns >= 1);
        Assert.Equal(1L, await fixture.Platform.CatalogueScalarAsync<long>(
            "SELECT count(*) FROM audit_events e JOIN datasets d ON d.id = e.dataset_id WHERE d.id = $1 AND e.action = 'reference-data.changed'", referenceId));
    }

    private async Task<IPage> SignInAsync(string name)
    {
        var context = await Chromium.NewContextAsync();
        var page = await context.NewPageAsync();
        await page.GotoAsync(fixture.Platform.PortalUrl.ToString());
        await page.GetByRole(AriaRole.Button, new() { NameRegex = new Regex("^" + name) }).ClickAsync();
        await Assertions.Expect(page.GetByTestId("welcome")).ToBeVisibleAsync();
        return page;
    }

    private async Task AddRestrictedDatasetAsync(string slug, string suffix)
    {
        var datasets = await fixture.Platform.App.GetConnectionStringAsync("datasets", Cancel);
        await Sql.ScalarAsync<object>(datasets!, $"CREATE SCHEMA journey_{suffix}; CREATE TABLE journey_{suffix}.rows (id int, label text); INSERT INTO journey_{suffix}.rows VALUES (1, 'first-{suffix}'), (2, 'second')");
        await fixture.Platform.CatalogueScalarAsync<object>("""
            WITH d AS (
              INSERT INTO datasets (id, type, name, slug, short_description, description, publisher, licence, retention, classification,
                information_asset_owner, information_asset_manager, editors, access_type, authorized_email_domains, eligibility_criteria,
                published, published_at, created_at, updated_at)
              VALUES (gen_random_uuid(), 'SourceDataset', $3, $1, 'Made by the journey test', '', 'Test publisher', '', '', 'Official',
                $2, $2, '{}', 'RequiresAuthorization', '{}', '{"I work on trade policy"}', true, now(), now(), now())
              RETURNING id)
            INSERT INTO source_tables (id, dataset_id, name, schema, "table", is_view) SELECT gen_random_uuid(), d.id, 'Rows', $4, 'rows', false FROM d
            """, slug, Priya, $"Journey {suffix}", $"journey_{suffix}");
    }

    private async Task<Guid> AddReferenceDatasetAsync(string suffix) =>
        (await fixture.Platform.CatalogueScalarAsync<Guid>("""
            INSERT INTO datasets (id, type, name, slug, short_description, description, publisher, licence, retention, classification,
              information_asset_owner, information_asset_manager, editors, access_type, authorized_email_domains, eligibility_criteria,
              published, published_at, created_at, updated_at)
            VALUES (gen_random_uuid(), 'ReferenceDataset', $1, $2, 'UK ports', '', 'Test publisher', '', '', 'Official', '', '', '{}', 'Open', '{}', '{}',
              true, now(), now(), now())
            RETURNING id
            """, $"Ports {suffix}", $"ports-{suffix}"))!;
}
