using System.Text.RegularExpressions;
using Microsoft.Playwright;

namespace DataWorkspace.EndToEnd.Tests;

/// <summary>
/// The Tools page follows a tool's state by itself: started there, it goes from starting to running, and stopped in
/// another tab, it shows stopped, all without a reload; and it is accessible in each state.
/// </summary>
public sealed class BrowserToolsPageTests(PlatformFixture fixture) : BrowserTest
{
    private const string Tom = "tom.evans@partner.example";

    [Fact]
    public async Task A_tool_started_from_the_tools_page_shows_starting_then_running_then_stopped_without_a_reload()
    {
        var portal = fixture.Platform.PortalUrl;
        await using var context = await Chromium.NewContextAsync();
        var page = await context.NewPageAsync();
        var problems = Browser.WatchForProblems(page, failedResponses: true);

        await page.GotoAsync(portal.ToString());
        await page.GetByRole(AriaRole.Button, new() { NameRegex = new Regex("^Tom Evans") }).ClickAsync();
        await Assertions.Expect(page.GetByTestId("welcome")).ToBeVisibleAsync();
        var id = (await fixture.Platform.CatalogueScalarAsync<string>("SELECT id FROM users WHERE email = $1", Tom))!;
        await fixture.Platform.CatalogueScalarAsync<object>(
            "INSERT INTO tools_permissions (user_id, source, granted_at, granted_by) VALUES ($1, 'Admin', now(), 'test') ON CONFLICT DO NOTHING", id);

        await page.GotoAsync(new Uri(portal, "/tools").ToString());
        var tool = page.Locator("[data-testid=tool][data-tool=slow]");
        var state = tool.GetByTestId("tool-state-tag");
        await Assertions.Expect(state).ToHaveTextAsync(new Regex("^(Not running|Stopped)$"));
        await Assertions.Expect(tool.GetByTestId("stop-tool")).ToBeHiddenAsync();
        await Browser.AssertAccessibleAsync(page);

        await tool.GetByTestId("start-tool").ClickAsync();
        await Assertions.Expect(state).ToHaveTextAsync("Starting");
        await Assertions.Expect(tool.GetByTestId("start-tool")).ToBeHiddenAsync();
        await Browser.AssertAccessibleAsync(page);
        await Browser.SaveScreenshotAsync(page, "tools-starting");
        // A mark on this page's window: a reload would start a new one without it.
        await page.EvaluateAsync("() => { window.notReloaded = true; }");

        await Assertions.Expect(state).ToHaveTextAsync("Running", new() { Timeout = 60_000 });
        await Assertions.Expect(tool.GetByTestId("open-tool")).ToBeVisibleAsync();
        await Assertions.Expect(tool.GetByTestId("stop-tool")).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByTestId("tools-live")).ToHaveTextAsync("Slow sample app: running.");
        await Browser.AssertAccessibleAsync(page);
        await Browser.SaveScreenshotAsync(page, "tools-running");

        // Stopped in another tab: this one notices by itself.
        var other = await context.NewPageAsync();
        await other.GotoAsync(new Uri(portal, "/tools").ToString());
        await other.Locator("[data-testid=tool][data-tool=slow]").GetByTestId("stop-tool").ClickAsync();
        await Assertions.Expect(other.GetByTestId("tools-message")).ToHaveTextAsync("The tool was stopped.");
        await other.CloseAsync();
        await page.BringToFrontAsync();

        await Assertions.Expect(state).ToHaveTextAsync("Stopped", new() { Timeout = 30_000 });
        await Assertions.Expect(tool.GetByTestId("start-tool")).ToBeVisibleAsync();
        await Assertions.Expect(tool.GetByTestId("open-tool")).ToBeHiddenAsync();
        await Assertions.Expect(tool).ToContainTextAsync("Last stopped:");
        await Browser.AssertAccessibleAsync(page);
        await Browser.SaveScreenshotAsync(page, "tools-stopped");
        Assert.True(await page.EvaluateAsync<bool>("() => window.notReloaded === true"), "The Tools page was reloaded");
        Assert.Empty(problems);
    }
}
