using System.Diagnostics;
using System.Text.RegularExpressions;
using Microsoft.Playwright;

namespace DataWorkspace.EndToEnd.Tests;

/// <summary>
/// Data Explorer in a real browser through the proxy: Tom pages through a large result, downloads it, cancels a slow
/// query, sees where a syntax error is, and saves a query that he runs again after a reload.
/// </summary>
public sealed class BrowserExplorerTests(PlatformFixture fixture) : BrowserTest
{
    [Fact]
    public async Task An_analyst_pages_downloads_cancels_meets_a_syntax_error_and_reruns_a_saved_query()
    {
        var suffix = Guid.NewGuid().ToString("N")[..8];
        await using var context = await Chromium.NewContextAsync(new() { AcceptDownloads = true });
        var page = await context.NewPageAsync();
        // The editor must work under the portal's Content-Security-Policy: a blocked style or script is a console error.
        var problems = Browser.WatchForProblems(page);

        await page.GotoAsync(fixture.Platform.PortalUrl.ToString());
        await page.GetByRole(AriaRole.Button, new() { NameRegex = new Regex("^Tom Evans") }).ClickAsync();
        await Assertions.Expect(page.GetByTestId("welcome")).ToBeVisibleAsync();
        await page.GetByTestId("explorer-link").ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Data Explorer", Level = 1 })).ToBeVisibleAsync();
        // CodeMirror's own styles arrived (a constructed stylesheet in the editor's shadow root, which the CSP allows).
        await Assertions.Expect(page.Locator(".cm-gutters")).ToHaveCSSAsync("background-color", "rgb(243, 242, 241)");
        await Assertions.Expect(page.GetByTestId("schema-browser")).Not.ToContainTextAsync("Loading…");
        await Browser.AssertAccessibleAsync(page);
        // Within the page width like every other page: the main column does not reach the window's edge.
        await page.SetViewportSizeAsync(1200, 800);
        var main = (await page.Locator("#main-content").BoundingBoxAsync())!;
        Assert.True(main.X >= 30 && main.Width <= 960, $"the Data Explorer's main column is {main.Width}px wide from {main.X}px");
        var status = page.GetByTestId("query-status");
        var results = page.GetByTestId("results");

        // A large result comes a thousand rows to a page, with the total counted.
        await RunAsync(page, "SELECT * FROM generate_series(1, 2500) AS n");
        await Assertions.Expect(page.GetByTestId("result-total")).ToHaveTextAsync("2,500 rows");
        await Assertions.Expect(status).ToHaveTextAsync(new Regex(@"^2,500 rows in [\d.]+ s$"));
        await Assertions.Expect(results.Locator("thead th")).ToHaveTextAsync(["n"]);
        await Assertions.Expect(results.Locator("tbody tr")).ToHaveCountAsync(1000);
        await Assertions.Expect(page.GetByTestId("page-info")).ToHaveTextAsync("Page 1 of 3");
        await Assertions.Expect(page.GetByTestId("prev-page")).ToBeDisabledAsync();
        await Browser.AssertAccessibleAsync(page);
        await Browser.SaveScreenshotAsync(page, "explorer-1-results");

        await page.GetByTestId("next-page").ClickAsync();
        await Assertions.Expect(page.GetByTestId("page-info")).ToHaveTextAsync("Page 2 of 3");
        await Assertions.Expect(results.Locator("tbody tr")).ToHaveCountAsync(1000);
        await Assertions.Expect(results.Locator("tbody tr").First).ToHaveTextAsync("1001");
        await page.GetByTestId("next-page").ClickAsync();
        await Assertions.Expect(page.GetByTestId("page-info")).ToHaveTextAsync("Page 3 of 3");
        await Assertions.Expect(results.Locator("tbody tr")).ToHaveCountAsync(500);
        await Assertions.Expect(results.Locator("tbody tr").Last).ToHaveTextAsync("2500");
        await Assertions.Expect(page.GetByTestId("next-page")).ToBeDisabledAsync();

        // The whole result downloads as CSV, header first.
        var download = await page.RunAndWaitForDownloadAsync(() => page.GetByTestId("download-csv").ClickAsync());
        var lines = await File.ReadAllLinesAsync(await download.PathAsync(), TestContext.Current.CancellationToken);
        Assert.Equal("n", lines[0]);
        Assert.Equal(2501, lines.Count(line => line.Length > 0));

        // A slow query stops soon after Cancel.
        await RunAsync(page, "SELECT pg_sleep(60)");
        await Assertions.Expect(status).ToHaveTextAsync(new Regex("^Running… \\d+ s$"));
        await Assertions.Expect(page.GetByTestId("cancel")).ToBeEnabledAsync();
        var clock = Stopwatch.StartNew();
        await page.GetByTestId("cancel").ClickAsync();
        await Assertions.Expect(status).ToHaveTextAsync("Cancelled", new() { Timeout = 5_000 });
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"cancelling took {clock.Elapsed}");
        await Assertions.Expect(page.GetByTestId("cancel")).ToBeDisabledAsync();

        // A syntax error says where it is.
        await RunAsync(page, "SELEC 1");
        await Assertions.Expect(status).ToHaveTextAsync("Failed");
        await Assertions.Expect(page.GetByTestId("query-error")).ToContainTextAsync("syntax error");
        await Assertions.Expect(page.GetByTestId("query-error").GetByTestId("error-position")).ToHaveTextAsync("Line 1, column 1");
        await Browser.AssertAccessibleAsync(page);
        await Browser.SaveScreenshotAsync(page, "explorer-2-syntax-error");

        // A saved query survives a reload and runs from the saved list.
        var title = $"Greeting {suffix}";
        await FillEditorAsync(page, $"SELECT 'hello-{suffix}' AS greeting, NULL AS nothing");
        await page.GetByTestId("save").ClickAsync();
        await page.GetByTestId("save-title").FillAsync(title);
        await page.GetByTestId("save-description").FillAsync("Made by the explorer test");
        await page.GetByTestId("save-confirm").ClickAsync();
        await Assertions.Expect(page.GetByTestId("saved-queries")).ToContainTextAsync(title);

        await page.ReloadAsync();
        var saved = page.GetByTestId("saved-queries").GetByTestId("saved-query").Filter(new() { HasText = title });
        await Assertions.Expect(saved).ToContainTextAsync("Made by the explorer test");
        await saved.GetByTestId("run-saved").ClickAsync();
        await Assertions.Expect(page.GetByTestId("result-total")).ToHaveTextAsync("1 row");
        await Assertions.Expect(results.Locator("tbody tr")).ToHaveTextAsync([$"hello-{suffix}NULL"]);
        await Assertions.Expect(results.Locator("tbody .dw-null")).ToHaveTextAsync("NULL");
        await Assertions.Expect(page.GetByTestId("history")).ToContainTextAsync($"SELECT 'hello-{suffix}'");
        await Browser.AssertAccessibleAsync(page);
        await Browser.SaveScreenshotAsync(page, "explorer-3-saved-query");

        Assert.Empty(problems);
    }

    private static async Task RunAsync(IPage page, string sql)
    {
        await FillEditorAsync(page, sql);
        await page.GetByTestId("run").ClickAsync();
    }

    /// <summary>
    /// Types into CodeMirror (its content element sits in a shadow root, which Playwright's locators pierce). Clearing
    /// first: Playwright's FillAsync over highlighted text makes Chromium's editing add a style attribute, which the
    /// CSP blocks (harmlessly) with a console error.
    /// </summary>
    internal static async Task FillEditorAsync(IPage page, string sql)
    {
        var editor = page.Locator(".cm-content");
        await editor.ClickAsync();
        await page.Keyboard.PressAsync("ControlOrMeta+A");
        await page.Keyboard.PressAsync("Delete");
        await page.Keyboard.InsertTextAsync(sql);
        await Assertions.Expect(editor).ToHaveTextAsync(sql);
        // Closes the completion list, which could otherwise cover the buttons under the editor.
        await editor.PressAsync("Escape");
    }
}
