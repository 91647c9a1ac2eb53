using System.Text.RegularExpressions;
using DataWorkspace.Contracts;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace DataWorkspace.EndToEnd.Tests;

/// <summary>How a page of the portal looks: its header's colour and its text's font, as the browser computed them.</summary>
public sealed record PortalLook(string HeaderBackground, string BodyFont)
{
    public static async Task<PortalLook> OfAsync(IPage page)
    {
        // The page's text can be there before its stylesheet.
        await page.WaitForLoadStateAsync(LoadState.Load);
        return new(
            await page.EvaluateAsync<string>("() => getComputedStyle(document.querySelector('[data-testid=header]')).backgroundColor"),
            await page.EvaluateAsync<string>("() => getComputedStyle(document.querySelector('main .govuk-body')).fontFamily"));
    }

    /// <summary>
    /// The page is the proxy's own, in the portal's styles: the stylesheet from its own origin, the portal's header
    /// leading to the portal, the heading, and the same look as the portal's pages; and axe finds nothing serious.
    /// </summary>
    public async Task AssertProxyPageAsync(IPage page, Uri portal, string heading)
    {
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = heading, Level = 1 })).ToBeVisibleAsync();
        var header = page.Locator("[data-testid=header]");
        await Assertions.Expect(header).ToContainTextAsync("Data Workspace");
        var home = await header.GetByRole(AriaRole.Link).GetAttributeAsync("href");
        Assert.Equal(portal.Authority, new Uri(new Uri(page.Url), home).Authority);
        var stylesheet = await page.EvaluateAsync<string>("() => document.styleSheets[0].href");
        Assert.StartsWith(new Uri(page.Url).GetLeftPart(UriPartial.Authority) + "/_dataworkspace/site.css?v=", stylesheet);
        Assert.Equal(this, await OfAsync(page));
        await Browser.AssertAccessibleAsync(page);
    }
}

/// <summary>
/// The proxy's own pages in a browser: a refusal, a page not found and a tool's progress page, each in the portal's
/// GOV.UK styles with the right status, and accessible.
/// </summary>
public sealed class BrowserProxyPagesTests(PlatformFixture fixture) : BrowserTest
{
    private const string Priya = "priya.shah@trade.example";

    [Fact]
    public async Task A_refusal_a_page_not_found_and_the_progress_page_look_like_the_portal_and_pass_axe()
    {
        var portal = fixture.Platform.PortalUrl;
        await using var context = await Chromium.NewContextAsync();
        var page = await context.NewPageAsync();
        var problems = Browser.WatchForProblems(page);

        await page.GotoAsync(new Uri(portal, "/tools").ToString());
        await page.GetByRole(AriaRole.Button, new() { NameRegex = new Regex("^Priya Shah") }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Tools", Level = 1 })).ToBeVisibleAsync();
        var look = await PortalLook.OfAsync(page);
        var id = (await fixture.Platform.CatalogueScalarAsync<string>("SELECT id FROM users WHERE email = $1", Priya))!;
        await fixture.Platform.CatalogueScalarAsync<object>(
            "INSERT INTO tools_permissions (user_id, source, granted_at, granted_by) VALUES ($1, 'Admin', now(), 'test') ON CONFLICT DO NOTHING", id);
        string Address(string label, string path = "/") => $"http://{label}.{portal.Host}:{portal.Port}{path}";

        var refused = await page.GotoAsync(Address("slow-00000000"));
        Assert.Equal(403, refused!.Status);
        await look.AssertProxyPageAsync(page, portal, "This is not your tool");
        await Assertions.Expect(page.GetByTestId("proxy-message")).ToContainTextAsync("only they can open it");
        await Browser.SaveScreenshotAsync(page, "proxy-403");

        var hash = UserHash.Of(id);
        var missing = await page.GotoAsync(Address($"slow-{hash}", "/_dataworkspace/nothing-here"));
        Assert.Equal(404, missing!.Status);
        await look.AssertProxyPageAsync(page, portal, "Page not found");
        await Assertions.Expect(page.GetByRole(AriaRole.Link, new() { Name = "Go to the Data Workspace portal" })).ToHaveAttributeAsync("href", portal.GetLeftPart(UriPartial.Authority) + "/");

        // The progress page is held still while it is looked at: its event stream is refused until then.
        await page.RouteAsync("**/_dataworkspace/events*", route => route.AbortAsync());
        var starting = await page.GotoAsync(Address($"slow-{hash}"));
        Assert.Equal(202, starting!.Status);
        await look.AssertProxyPageAsync(page, portal, "Starting your Slow sample app");
        await Assertions.Expect(page.Locator("#stages li")).ToHaveCountAsync(Enum.GetValues<ToolStage>().Length);
        await Browser.SaveScreenshotAsync(page, "proxy-progress");

        await page.UnrouteAllAsync();
        await Assertions.Expect(page.GetByText("Priya Shah").First).ToBeVisibleAsync(new() { Timeout = 60_000 });
        Assert.Equal(Address($"slow-{hash}"), page.Url);
        Assert.Empty(problems);
    }
}

[CollectionDefinition(nameof(WebAppStopped), DisableParallelization = true)]
public sealed class WebAppStopped;

/// <summary>The web app stopped while someone uses the portal: the proxy says so itself, in the portal's styles.</summary>
[Collection(nameof(WebAppStopped))]
public sealed class BrowserPortalRestartingTests(PlatformFixture fixture) : BrowserTest
{
    [Fact]
    public async Task While_the_web_app_is_down_the_portal_answers_503_saying_it_is_restarting_in_its_own_styles()
    {
        var portal = fixture.Platform.PortalUrl;
        var cancel = TestContext.Current.CancellationToken;
        await using var context = await Chromium.NewContextAsync();
        var page = await context.NewPageAsync();
        await page.GotoAsync(new Uri(portal, "/datasets").ToString());
        await page.GetByRole(AriaRole.Button, new() { NameRegex = new Regex("^Tom Evans") }).ClickAsync();
        await Assertions.Expect(page.GetByTestId("signed-in-user")).ToHaveTextAsync("Tom Evans");
        var look = await PortalLook.OfAsync(page);

        var commands = fixture.Platform.App.Services.GetRequiredService<ResourceCommandService>();
        var stopped = await commands.ExecuteCommandAsync("web", KnownResourceCommands.StopCommand, cancel);
        Assert.True(stopped.Success, stopped.Message);
        try
        {
            var down = await page.ReloadAsync();
            Assert.Equal(503, down!.Status);
            Assert.Equal("10", await down.HeaderValueAsync("retry-after"));
            await look.AssertProxyPageAsync(page, portal, "The portal is restarting");
            await Assertions.Expect(page.GetByTestId("proxy-message")).ToContainTextAsync("Try again in a few seconds");
            await Assertions.Expect(page.GetByRole(AriaRole.Link, new() { Name = "Try again" })).ToHaveAttributeAsync("href", "/datasets");
            await Browser.SaveScreenshotAsync(page, "proxy-503-portal-restarting");
        }
        finally
        {
            await commands.ExecuteCommandAsync("web", KnownResourceCommands.StartCommand, CancellationToken.None);
            using var started = new CancellationTokenSource(TimeSpan.FromMinutes(3));
            await fixture.Platform.App.ResourceNotifications.WaitForResourceHealthyAsync("web", started.Token);
        }

        // Back: "Try again" opens the page that could not be shown.
        await page.GetByRole(AriaRole.Link, new() { Name = "Try again" }).ClickAsync();
        await Assertions.Expect(page.GetByTestId("signed-in-user")).ToHaveTextAsync("Tom Evans");
    }
}
