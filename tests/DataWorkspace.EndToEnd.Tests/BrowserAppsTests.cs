using Microsoft.Playwright;

namespace DataWorkspace.EndToEnd.Tests;

/// <summary>A wrapped visualisation in Chromium: the portal's header above the app's frame, under each side's policy.</summary>
public sealed class BrowserAppsTests(PlatformFixture fixture) : BrowserTest
{
    [Fact]
    public async Task A_wrapped_visualisation_shows_under_the_portal_header_and_starts_inside_its_frame()
    {
        await using var context = await Chromium.NewContextAsync();
        var page = await context.NewPageAsync();
        // A frame refused by either Content-Security-Policy shows up as a console error.
        var problems = Browser.WatchForProblems(page);

        await page.GotoAsync(new Uri(fixture.Platform.PortalUrl, "/apps/market-access").ToString());
        await page.GetByRole(AriaRole.Button, new() { NameRegex = new System.Text.RegularExpressions.Regex("^Priya Shah") }).ClickAsync();

        await Assertions.Expect(page.GetByTestId("signed-in-user")).ToHaveTextAsync("Priya Shah");
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Market access dashboard" })).ToBeVisibleAsync();
        // In the frame: the progress page (if it was not running yet) moves on by itself to the app, which knows its viewer.
        var frame = page.FrameLocator("[data-testid=app-frame]");
        await Assertions.Expect(frame.GetByText("Priya Shah").First).ToBeVisibleAsync(new() { Timeout = 60_000 });
        // The portal's page and the app's own inside the frame.
        await Browser.AssertAccessibleAsync(page);
        await Browser.SaveScreenshotAsync(page, "wrapped-visualisation");
        Assert.Empty(problems);
    }
}
