using System.Net;
using System.Net.Http.Headers;
using System.Text.RegularExpressions;
using Microsoft.Playwright;

namespace DataWorkspace.EndToEnd.Tests;

/// <summary>
/// The API tokens page in a browser: a form's mistakes summarised and linked to their fields, a new token shown once
/// with a working copy button and usable by a script at once, then revoked; an admin sees the tokens in use. Axe finds
/// nothing serious at any step.
/// </summary>
public sealed partial class BrowserApiTokensTests(PlatformFixture fixture) : BrowserTest
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_user_makes_a_token_after_a_mistake_copies_it_a_script_uses_it_and_the_user_revokes_it()
    {
        await using var context = await Chromium.NewContextAsync(new() { Permissions = ["clipboard-read", "clipboard-write"] });
        var page = await context.NewPageAsync();
        await page.GotoAsync(fixture.Platform.PortalUrl.ToString());
        await page.GetByRole(AriaRole.Button, new() { NameRegex = PriyaButton() }).ClickAsync();
        await page.GetByTestId("api-tokens-link").ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "API tokens", Level = 1 })).ToBeVisibleAsync();
        await Browser.AssertAccessibleAsync(page);

        // No name and no scope: the summary names both, and its links lead to the fields.
        await page.GetByTestId("create-token").ClickAsync();
        var summary = page.Locator(".govuk-error-summary");
        await Assertions.Expect(summary).ToBeVisibleAsync();
        await Assertions.Expect(page).ToHaveTitleAsync(new Regex("^Error: "));
        await summary.GetByRole(AriaRole.Link).First.ClickAsync();
        var focused = await page.EvaluateAsync<string>("() => document.activeElement?.id ?? ''");
        Assert.True(focused is "name" or "scope-catalogue-read", $"the summary's link focused '{focused}'");
        await Assertions.Expect(page.Locator($"#{focused}")).ToHaveAttributeAsync("aria-describedby", new Regex("-error"));
        await Browser.AssertAccessibleAsync(page);

        await page.GetByTestId("token-name").FillAsync("Nightly export");
        await page.GetByLabel("catalogue:read").CheckAsync();
        await page.GetByTestId("create-token").ClickAsync();
        var token = await page.GetByTestId("new-token-text").InputValueAsync();
        Assert.Matches("^dwp_[0-9a-f]{16}_[0-9a-f]{64}$", token);
        await page.GetByRole(AriaRole.Button, new() { Name = "Copy token" }).ClickAsync();
        await Assertions.Expect(page.Locator("[data-copied-for=new-token-text]")).ToHaveTextAsync("Copied.");
        Assert.Equal(token, await page.EvaluateAsync<string>("() => navigator.clipboard.readText()"));
        await Browser.AssertAccessibleAsync(page);

        // A script with what the page showed, and nothing else.
        using var script = fixture.Platform.Client(followRedirects: false);
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(fixture.Platform.PortalUrl, "api/v1/datasets"));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var answer = await script.Http.SendAsync(request, Cancel);
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);

        // Shown once: a reload lists the token by name, never its text.
        await page.GotoAsync(fixture.Platform.PortalUrl + "account/tokens");
        var row = page.GetByTestId("tokens").Locator("tr", new() { HasText = "Nightly export" });
        await Assertions.Expect(row).ToContainTextAsync("catalogue:read");
        Assert.DoesNotContain(token, await page.ContentAsync());
        await row.GetByTestId("revoke").ClickAsync();
        await Assertions.Expect(page.GetByTestId("tokens").Locator("tr", new() { HasText = "Nightly export" })).ToContainTextAsync("Revoked");
        await Browser.AssertAccessibleAsync(page);

        // What a script may call, and the scope each needs.
        await page.GetByRole(AriaRole.Link, new() { Name = "API reference" }).First.ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "API reference", Level = 1 })).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByTestId("api-operation").Filter(new() { HasText = "GET /api/v1/datasets" }).First).ToContainTextAsync("catalogue:read");
        await Browser.AssertAccessibleAsync(page);
    }

    [Fact]
    public async Task An_admin_sees_the_tokens_in_use_and_can_filter_them_by_owner()
    {
        await using var context = await Chromium.NewContextAsync();
        var page = await context.NewPageAsync();
        await page.GotoAsync(fixture.Platform.PortalUrl.ToString());
        await page.GetByRole(AriaRole.Button, new() { NameRegex = MorganButton() }).ClickAsync();
        await Assertions.Expect(page.GetByTestId("welcome")).ToBeVisibleAsync();

        await page.GotoAsync(fixture.Platform.PortalUrl + "admin/api-tokens");
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "API tokens in use", Level = 1 })).ToBeVisibleAsync();
        await Browser.AssertAccessibleAsync(page);
        await page.GetByLabel("Owner's email").FillAsync("nobody@trade.example");
        await page.GetByRole(AriaRole.Button, new() { Name = "Filter" }).ClickAsync();
        await Assertions.Expect(page.GetByTestId("no-tokens")).ToContainTextAsync("nobody@trade.example");
        await Browser.AssertAccessibleAsync(page);
    }

    [GeneratedRegex("^Priya Shah")]
    private static partial Regex PriyaButton();

    [GeneratedRegex("^Morgan Lee")]
    private static partial Regex MorganButton();
}
