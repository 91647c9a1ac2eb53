using Microsoft.Playwright;

namespace DataWorkspace.EndToEnd.Tests;

public sealed class BrowserSignInTests(PlatformFixture fixture) : BrowserTest
{
    [Fact]
    public async Task A_person_signs_in_as_a_demo_user_sees_their_name_then_signs_out_and_is_asked_to_sign_in_again()
    {
        await using var context = await Chromium.NewContextAsync();
        var page = await context.NewPageAsync();
        var problems = Browser.WatchForProblems(page, failedResponses: true);

        await page.GotoAsync(fixture.Platform.PortalUrl.ToString());
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Sign in to Data Workspace" })).ToBeVisibleAsync();
        Assert.Equal(fixture.Platform.IdentityUrl.Authority, new Uri(page.Url).Authority);
        await Browser.AssertAccessibleAsync(page);

        await page.GetByRole(AriaRole.Button, new() { NameRegex = new System.Text.RegularExpressions.Regex("^Priya Shah") }).ClickAsync();

        await Assertions.Expect(page.GetByTestId("welcome")).ToHaveTextAsync("Welcome, Priya Shah");
        Assert.Equal(fixture.Platform.PortalUrl.Authority, new Uri(page.Url).Authority);
        await Assertions.Expect(page.GetByTestId("signed-in-user")).ToHaveTextAsync("Priya Shah");
        // GOV.UK Frontend's styles and script loaded under the portal's strict Content-Security-Policy.
        await Assertions.Expect(page.GetByTestId("header")).ToHaveCSSAsync("background-color", "rgb(11, 12, 12)");
        await Assertions.Expect(page.Locator("body")).ToHaveClassAsync(new System.Text.RegularExpressions.Regex("govuk-frontend-supported"));
        await Browser.AssertAccessibleAsync(page);
        await Browser.SaveScreenshotAsync(page, "home-signed-in");

        await page.GetByTestId("sign-out").ClickAsync();

        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Sign in to Data Workspace" })).ToBeVisibleAsync();
        await Browser.AssertAccessibleAsync(page);
        await Browser.SaveScreenshotAsync(page, "signed-out");
        await page.GotoAsync(fixture.Platform.PortalUrl.ToString());
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Sign in to Data Workspace" })).ToBeVisibleAsync();
        Assert.Empty(problems);
    }

    [Fact]
    public async Task Every_portal_page_an_admin_reaches_from_the_navigation_has_no_serious_accessibility_problem()
    {
        await using var context = await Chromium.NewContextAsync();
        var page = await context.NewPageAsync();
        await page.GotoAsync(fixture.Platform.PortalUrl.ToString());
        await page.GetByRole(AriaRole.Button, new() { NameRegex = new System.Text.RegularExpressions.Regex("^Morgan Lee") }).ClickAsync();
        await Assertions.Expect(page.GetByTestId("welcome")).ToBeVisibleAsync();

        // Each section from the navigation, which then marks it as the current page.
        foreach (var (link, heading) in new[]
        {
            ("Search for data", "Search for data"), ("Data Explorer", "Data Explorer"), ("Tools", "Tools"), ("Your files", "Your files"),
            ("Your requests", "Your access requests"), ("Admin", "Admin"),
        })
        {
            var navigation = page.GetByRole(AriaRole.Navigation, new() { Name = "Menu" });
            await navigation.GetByRole(AriaRole.Link, new() { Name = link, Exact = true }).ClickAsync();
            await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = heading, Level = 1 })).ToBeVisibleAsync();
            await Assertions.Expect(navigation.Locator("[aria-current=page]")).ToHaveTextAsync(link);
            await Browser.AssertAccessibleAsync(page);
        }

        // The admin pages, a dataset's page and its access, a person's page, tools access, and an error page.
        foreach (var (path, heading) in new[]
        {
            ("admin/users", "Users"), ("admin/datasets", "Datasets"), ("admin/datasets/edit", "Add a dataset"), ("admin/teams", "Teams"),
            ("admin/tool-templates", "Tools and visualisations"), ("admin/tools", "Running tools"), ("admin/audit", "Audit log"),
            ("admin/requests", null), ("tools-access", "Tools access"), ("datasets/no-such-dataset", null),
        })
        {
            await page.GotoAsync(fixture.Platform.PortalUrl + path);
            if (heading is not null) await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = heading, Level = 1 })).ToBeVisibleAsync();
            await Browser.AssertAccessibleAsync(page);
        }

        await page.GotoAsync(fixture.Platform.PortalUrl + "admin/users");
        await page.GetByTestId("admin-users").GetByRole(AriaRole.Link).First.ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Account" })).ToBeVisibleAsync();
        await Browser.AssertAccessibleAsync(page);

        await page.GotoAsync(fixture.Platform.PortalUrl + "datasets");
        await page.Locator(".dw-result a").First.ClickAsync();
        await Assertions.Expect(page.GetByTestId("dataset-name")).ToBeVisibleAsync();
        await Browser.AssertAccessibleAsync(page);
    }
}
