using Microsoft.Playwright;

namespace DataWorkspace.EndToEnd.Tests;

public sealed class BrowserSignInTests(PlatformFixture fixture) : BrowserTest
{
    [Fact]
    public async Task A_person_signs_in_as_a_demo_user_sees_their_name_then_signs_out_and_is_asked_to_sign_in_again()
    {
        await using var context = await Chromium.NewContextAsync();
        var page = await context.NewPageAsync();
        var problems = new List<string>();
        page.Console += (_, message) => { if (message.Type == "error" && !message.Text.StartsWith("Failed to load resource", StringComparison.Ordinal)) problems.Add(message.Text); };
        page.Response += (_, response) => { if (response.Status >= 400) problems.Add($"{response.Status} {response.Url}"); };
        page.PageError += (_, error) => problems.Add(error);

        await page.GotoAsync(fixture.Platform.PortalUrl.ToString());
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Sign in to Data Workspace" })).ToBeVisibleAsync();
        Assert.Equal(fixture.Platform.IdentityUrl.Authority, new Uri(page.Url).Authority);

        await page.GetByRole(AriaRole.Button, new() { NameRegex = new System.Text.RegularExpressions.Regex("^Priya Shah") }).ClickAsync();

        await Assertions.Expect(page.GetByTestId("welcome")).ToHaveTextAsync("Welcome, Priya Shah");
        Assert.Equal(fixture.Platform.PortalUrl.Authority, new Uri(page.Url).Authority);
        await Assertions.Expect(page.GetByTestId("signed-in-user")).ToHaveTextAsync("Priya Shah");
        // GOV.UK Frontend's styles and script loaded under the portal's strict Content-Security-Policy.
        await Assertions.Expect(page.Locator("header.govuk-header")).ToHaveCSSAsync("background-color", "rgb(11, 12, 12)");
        await Assertions.Expect(page.Locator("body")).ToHaveClassAsync(new System.Text.RegularExpressions.Regex("govuk-frontend-supported"));
        await Browser.SaveScreenshotAsync(page, "home-signed-in");

        await page.GetByTestId("sign-out").ClickAsync();

        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Sign in to Data Workspace" })).ToBeVisibleAsync();
        await Browser.SaveScreenshotAsync(page, "signed-out");
        await page.GotoAsync(fixture.Platform.PortalUrl.ToString());
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Sign in to Data Workspace" })).ToBeVisibleAsync();
        Assert.Empty(problems);
    }
}
