using System.Text;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Microsoft.Playwright;

namespace DataWorkspace.EndToEnd.Tests;

/// <summary>
/// Charts in a real browser through the proxy, under the portal's Content-Security-Policy: Tom charts a query of a
/// demo table, downloads the chart, saves it with the query and finds it again after a reload; a large result is
/// sampled for its chart; a dataset page charts its table's numbers over time.
/// </summary>
public sealed class BrowserChartTests(PlatformFixture fixture) : BrowserTest
{
    [Fact]
    public async Task An_analyst_charts_a_result_downloads_it_and_finds_it_again_with_the_saved_query()
    {
        var suffix = Guid.NewGuid().ToString("N")[..8];
        await using var context = await Chromium.NewContextAsync(new() { AcceptDownloads = true });
        var page = await context.NewPageAsync();
        // Whatever the policy refuses (an inline style, an eval) is a console error, and a securitypolicyviolation event.
        var problems = Browser.WatchForProblems(page);
        await page.AddInitScriptAsync("document.addEventListener('securitypolicyviolation', e => console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`));");

        // ECharts is most of the Explorer's script: the page fetches it only when a chart is drawn.
        var scripts = new List<string>();
        page.Request += (_, request) => { if (request.ResourceType == "script") lock (scripts) scripts.Add(new Uri(request.Url).AbsolutePath); };
        string[] ScriptsSoFar() { lock (scripts) return [.. scripts]; }

        await page.GotoAsync(fixture.Platform.PortalUrl.ToString());
        await page.GetByRole(AriaRole.Button, new() { NameRegex = new Regex("^Tom Evans") }).ClickAsync();
        await Assertions.Expect(page.GetByTestId("welcome")).ToBeVisibleAsync();
        await page.GetByTestId("explorer-link").ClickAsync();
        await page.WaitForLoadStateAsync(LoadState.NetworkIdle);
        Assert.Contains("/dist/explorer.js", ScriptsSoFar());
        Assert.DoesNotContain(ScriptsSoFar(), path => path.Contains("chart-renderer", StringComparison.Ordinal));
        var panel = page.GetByTestId("chart-panel");
        var drawing = page.GetByTestId("chart");

        // A bar chart of a demo table's numbers: one bar for each of the ten countries.
        var sql = $"SELECT country_code, sum(exports_gbp) AS exports_gbp, '{suffix}' AS run FROM trade.goods_by_country GROUP BY country_code ORDER BY 2 DESC LIMIT 10";
        await BrowserExplorerTests.FillEditorAsync(page, sql);
        await page.GetByTestId("run").ClickAsync();
        await Assertions.Expect(page.GetByTestId("result-total")).ToHaveTextAsync("10 rows");
        await Assertions.Expect(panel).ToBeVisibleAsync();
        await page.GetByLabel("Chart type").SelectOptionAsync("bar");
        await Assertions.Expect(page.GetByLabel("X axis")).ToHaveValueAsync("country_code");
        await Assertions.Expect(YColumn(panel, "exports_gbp")).ToBeCheckedAsync();
        // Text cannot go up the y axis, and the page says why.
        await Assertions.Expect(YColumn(panel, "country_code")).ToBeDisabledAsync();
        await Assertions.Expect(panel.GetByTestId("chart-y")).ToContainTextAsync("Not a number (text), so it cannot be plotted");
        await Assertions.Expect(drawing.Locator("svg")).ToBeVisibleAsync();
        Assert.Contains(ScriptsSoFar(), path => path.StartsWith("/dist/chunks/chart-renderer", StringComparison.Ordinal));
        await Assertions.Expect(drawing.Locator("svg text").Filter(new() { HasText = "country_code" })).ToHaveCountAsync(1);
        await Assertions.Expect(page.GetByTestId("chart-sample")).ToHaveTextAsync("Showing all 10 rows");
        await Browser.SaveScreenshotAsync(page, "chart-1-bar");
        var bars = await BarsAsync(drawing);
        Assert.True(bars >= 10, $"the chart should draw a bar for each of the ten countries, but drew {bars} filled shapes: {await drawing.InnerHTMLAsync()}");
        await Assertions.Expect(drawing).ToHaveAttributeAsync("role", "img");
        await Assertions.Expect(page.GetByTestId("chart-summary")).ToHaveTextAsync("Bar chart of exports_gbp by country_code, from all 10 rows. The same data is in the results table.");
        await Browser.AssertAccessibleAsync(page);

        // Downloads: a PNG image and an SVG document.
        var png = await page.RunAndWaitForDownloadAsync(() => page.GetByTestId("chart-png").ClickAsync());
        var pngBytes = await File.ReadAllBytesAsync(await png.PathAsync(), TestContext.Current.CancellationToken);
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A], pngBytes[..8]);
        Assert.True(pngBytes.Length > 2_000, $"a {pngBytes.Length}-byte PNG is too small to hold the chart");
        Assert.EndsWith(".png", png.SuggestedFilename, StringComparison.Ordinal);
        var svg = await page.RunAndWaitForDownloadAsync(() => page.GetByTestId("chart-svg").ClickAsync());
        var document = XDocument.Parse(Encoding.UTF8.GetString(await File.ReadAllBytesAsync(await svg.PathAsync(), TestContext.Current.CancellationToken)));
        Assert.Equal(XName.Get("svg", "http://www.w3.org/2000/svg"), document.Root!.Name);
        Assert.Contains(document.Descendants(), element => element.Name.LocalName == "text" && element.Value == "country_code");

        // Saved with the query; after a reload the page's address opens it again, chart and all.
        var title = $"Top markets {suffix}";
        await page.GetByTestId("save").ClickAsync();
        await page.GetByTestId("save-title").FillAsync(title);
        await page.GetByTestId("save-confirm").ClickAsync();
        await Assertions.Expect(page.GetByTestId("save-notice")).ToHaveTextAsync($"Saved “{title}” with its chart.");
        await page.ReloadAsync();
        await Assertions.Expect(page.GetByTestId("result-total")).ToHaveTextAsync("10 rows");
        await Assertions.Expect(page.GetByLabel("Chart type")).ToHaveValueAsync("bar");
        await Assertions.Expect(drawing.Locator("svg")).ToBeVisibleAsync();
        Assert.True(await BarsAsync(drawing) >= 10, "the saved chart should be drawn again after the reload");

        // From the saved list too, after another query replaced it.
        await BrowserExplorerTests.FillEditorAsync(page, "SELECT 1 AS one");
        await page.GetByTestId("run").ClickAsync();
        await Assertions.Expect(page.GetByTestId("result-total")).ToHaveTextAsync("1 row");
        var savedEntry = page.GetByTestId("saved-queries").GetByTestId("saved-query").Filter(new() { HasText = title });
        await savedEntry.GetByTestId("run-saved").ClickAsync();
        await Assertions.Expect(page.GetByTestId("chart-summary")).ToContainTextAsync("Bar chart of exports_gbp by country_code");

        // Its chart changed and saved in place: the same saved query, drawn as a line after a reload.
        await page.GetByLabel("Chart type").SelectOptionAsync("line");
        await Assertions.Expect(page.GetByTestId("chart-summary")).ToContainTextAsync("Line chart of exports_gbp by country_code");
        await page.GetByTestId("save").ClickAsync();
        await Assertions.Expect(page.GetByTestId("save-title")).ToHaveValueAsync(title);
        await Browser.AssertAccessibleAsync(page);
        await page.GetByTestId("save-update").ClickAsync();
        await Assertions.Expect(page.GetByTestId("save-notice")).ToHaveTextAsync($"Saved changes to “{title}” with its chart.");
        await page.ReloadAsync();
        await Assertions.Expect(page.GetByLabel("Chart type")).ToHaveValueAsync("line");
        await Assertions.Expect(page.GetByTestId("chart-summary")).ToContainTextAsync("Line chart of exports_gbp by country_code");
        await Assertions.Expect(savedEntry).ToHaveCountAsync(1);

        // A large result is sampled for its chart, and says so.
        await BrowserExplorerTests.FillEditorAsync(page, "SELECT n, n * n AS square FROM generate_series(1, 20000) AS n");
        await page.GetByTestId("run").ClickAsync();
        await Assertions.Expect(page.GetByTestId("result-total")).ToHaveTextAsync("20,000 rows");
        await page.GetByLabel("Chart type").SelectOptionAsync("line");
        await page.GetByLabel("X axis").SelectOptionAsync("n");
        await YColumn(panel, "square").CheckAsync();
        await Assertions.Expect(page.GetByTestId("chart-sample")).ToHaveTextAsync("Showing 5,000 of 20,000 rows");
        // The line of the first series, in the first colour of the palette.
        await Assertions.Expect(drawing.Locator("svg path[stroke='#1d70b8']").First).ToBeVisibleAsync();
        await Browser.SaveScreenshotAsync(page, "chart-2-sampled-line");

        // A dataset page charts its table's numbers over its dates, with the same numbers in a table beside it.
        await page.GotoAsync(new Uri(fixture.Platform.PortalUrl, "/datasets/uk-trade-in-goods-by-country").ToString());
        var datasetChart = page.GetByTestId("dataset-chart");
        await Assertions.Expect(datasetChart.GetByTestId("dataset-chart-caption")).ToContainTextAsync("Sum of imports_gbp and exports_gbp by month, over all");
        await Assertions.Expect(datasetChart.Locator("[role=img] svg path[stroke='#1d70b8']").First).ToBeVisibleAsync();
        await Assertions.Expect(datasetChart.Locator("[role=img] svg path[stroke='#f47738']").First).ToBeVisibleAsync();
        await Assertions.Expect(datasetChart.Locator("[data-chart-table] tbody tr").First).ToContainTextAsync("Jan 2019");
        await Browser.AssertAccessibleAsync(page);
        await Browser.SaveScreenshotAsync(page, "chart-3-dataset-page");

        Assert.Empty(problems);
    }

    private static ILocator YColumn(ILocator panel, string name) =>
        panel.GetByTestId("chart-y").GetByRole(AriaRole.Checkbox, new() { Name = name, Exact = true });

    /// <summary>Filled shapes in the chart's SVG: its bars (and the background, axes are strokes with no fill).</summary>
    private static Task<int> BarsAsync(ILocator drawing) =>
        drawing.Locator("svg path[fill]:not([fill='none'])").CountAsync();
}
