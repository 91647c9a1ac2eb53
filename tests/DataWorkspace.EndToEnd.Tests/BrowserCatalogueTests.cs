using System.Text.RegularExpressions;
using DataWorkspace.TestSupport;
using Microsoft.Playwright;

namespace DataWorkspace.EndToEnd.Tests;

public sealed class BrowserCatalogueTests(PlatformFixture fixture) : BrowserTest
{
    [Fact]
    public async Task An_analyst_searches_ticks_a_filter_sees_the_counts_change_and_opens_a_dataset()
    {
        var word = "quokka" + Guid.NewGuid().ToString("N")[..6];
        await AddDatasetAsync($"{word} open figures", $"{word}-open", "SourceDataset", "Open");
        await AddDatasetAsync($"{word} restricted cut", $"{word}-cut", "DataCut", "RequiresAuthorization");

        await using var context = await Chromium.NewContextAsync();
        var page = await context.NewPageAsync();
        await page.GotoAsync(fixture.Platform.PortalUrl + "datasets");
        await page.GetByRole(AriaRole.Button, new() { NameRegex = new Regex("^Tom Evans") }).ClickAsync();

        await Browser.AssertAccessibleAsync(page);
        await page.GetByLabel("Search by name or description").FillAsync(word);
        await page.GetByRole(AriaRole.Button, new() { Name = "Search", Exact = true }).ClickAsync();
        await Assertions.Expect(page.GetByTestId("result-count")).ToHaveTextAsync("2 datasets");
        await Assertions.Expect(page.GetByTestId("facet-access")).ToHaveTextAsync("Data I have access to (1)");
        await Assertions.Expect(page.GetByTestId("facet-type-DataCut")).ToHaveTextAsync("Data cut (1)");

        // Ticking a box applies it at once (no Apply click): the list and the other facets' counts follow.
        await page.GetByTestId("facet-access").ClickAsync();
        await Assertions.Expect(page.GetByTestId("result-count")).ToHaveTextAsync("1 dataset");
        await Assertions.Expect(page.GetByTestId("facet-type-DataCut")).ToHaveTextAsync("Data cut (0)");
        await Assertions.Expect(page.GetByTestId("facet-type-SourceDataset")).ToHaveTextAsync("Source dataset (1)");
        await Browser.AssertAccessibleAsync(page);
        await Browser.SaveScreenshotAsync(page, "catalogue-filtered");

        await page.GetByRole(AriaRole.Link, new() { Name = $"{word} open figures" }).ClickAsync();
        await Assertions.Expect(page.GetByTestId("dataset-name")).ToHaveTextAsync($"{word} open figures");
        await Assertions.Expect(page.GetByTestId("access-status")).ToContainTextAsync("You have access to this data");
        await Browser.AssertAccessibleAsync(page);
        await Browser.SaveScreenshotAsync(page, "dataset-page");
    }

    private async Task AddDatasetAsync(string name, string slug, string type, string access)
    {
        var connectionString = await fixture.Platform.App.GetConnectionStringAsync("catalogue", TestContext.Current.CancellationToken);
        await Sql.ScalarAsync<object>(connectionString!, """
            INSERT INTO datasets (id, type, name, slug, short_description, description, publisher, licence, retention, classification,
              information_asset_owner, information_asset_manager, editors, access_type, authorized_email_domains, eligibility_criteria,
              published, published_at, created_at, updated_at)
            VALUES (gen_random_uuid(), $1, $2, $3, 'Made by a browser test', '', 'Test publisher', '', '', 'Official', '', '', '{}', $4, '{}', '{}',
              true, now(), now(), now())
            """, type, name, slug, access);
    }
}
