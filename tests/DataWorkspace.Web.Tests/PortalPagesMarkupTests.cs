using System.Net;
using System.Text.RegularExpressions;
using DataWorkspace.Contracts;
using DataWorkspace.Security;
using DataWorkspace.Web.Portal;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace DataWorkspace.Web.Tests;

/// <summary>
/// What a screen reader user meets on the portal's pages: a form that went wrong says so in the title and in an error
/// summary whose links reach each field, and each field is described by its hint and its error; the navigation says
/// which section the page is in.
/// </summary>
public sealed partial class PortalPagesMarkupTests(WebFixture web)
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private readonly PlatformIdentity admin = new("markup-admin-" + Guid.NewGuid().ToString("N")[..8], $"admin-{Guid.NewGuid():N}@example.com", "Markup Admin",
        [PlatformIdentity.AdminRole], "127.0.0.1");

    [Fact]
    public async Task A_form_with_errors_links_each_error_to_its_field_which_its_hint_and_error_describe()
    {
        using var client = web.Factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        client.DefaultRequestHeaders.TryAddWithoutValidation(IdentityHeaders.SignedIdentity, web.Tokens().Issue(admin));
        client.DefaultRequestHeaders.TryAddWithoutValidation("Origin", RequestOrigin.Of(web.Factory.Services.GetRequiredService<PortalLinks>().Root));
        var blank = await client.GetStringAsync("/admin/datasets/edit", Cancel);
        Assert.DoesNotContain("govuk-error-summary", blank);
        Assert.DoesNotContain("govuk-form-group--error", blank);
        Assert.Matches("<input[^>]*id=\"Slug\"[^>]*aria-describedby=\"Slug-hint\"", blank);

        using var response = await client.PostAsync("/admin/datasets/edit", new FormUrlEncodedContent(
            [new("__RequestVerificationToken", AntiforgeryToken(blank)), new("Form.Name", ""), new("Form.Slug", "Not An Address")]), Cancel);
        var page = await response.Content.ReadAsStringAsync(Cancel);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Matches("<title>Error: ", page);
        var summary = Regex.Match(page, "<div class=\"govuk-error-summary\" data-module=\"govuk-error-summary\">.*?</ul>", RegexOptions.Singleline).Value;
        Assert.Contains("<a href=\"#Name\">Enter a name.</a>", summary);
        Assert.Contains("<a href=\"#Slug\">The address may use lower-case letters", WebUtility.HtmlDecode(summary));

        // The field each link reaches: in an error group, marked, described by its hint then its error, which starts "Error:".
        Assert.Matches("<div class=\"govuk-form-group govuk-form-group--error\"><label class=\"govuk-label govuk-label--s\" for=\"Slug\">Address</label>", page);
        Assert.Matches("<input class=\"govuk-input govuk-input--error\" id=\"Slug\"[^>]*aria-describedby=\"Slug-hint Slug-error\"", page);
        Assert.Matches("<div class=\"govuk-hint\" id=\"Slug-hint\">", page);
        Assert.Matches("<p class=\"govuk-error-message\" id=\"Slug-error\"><span class=\"govuk-visually-hidden\">Error:</span> The address may use", page);
        Assert.Matches("<input class=\"govuk-input govuk-input--error\" id=\"Name\"[^>]*aria-describedby=\"Name-error\"", page);
        // A field without an error stays as it was.
        Assert.Matches("<input class=\"govuk-input\" id=\"Publisher\" name=\"Form.Publisher\"", page);
    }

    [Theory]
    [InlineData("/datasets", "/datasets")]
    [InlineData("/admin/users", "/admin")]
    [InlineData("/tools-access", null)]
    [InlineData("/", null)]
    public async Task The_navigation_marks_the_section_the_page_is_in_as_the_current_page(string path, string? section)
    {
        using var response = await web.GetAsync(path, admin);
        var page = await response.Content.ReadAsStringAsync(Cancel);
        var navigation = Regex.Match(page, "<ul class=\"govuk-service-navigation__list\" id=\"navigation\">.*?</ul>", RegexOptions.Singleline).Value;

        var current = CurrentLink().Matches(navigation).Select(match => match.Groups["href"].Value).ToList();
        Assert.Equal(section is null ? [] : [section], current);
        Assert.Contains("href=\"/data-explorer\"", navigation);
        Assert.Contains("href=\"/admin\"", navigation);
    }

    private static string AntiforgeryToken(string page) =>
        Regex.Match(page, "name=\"__RequestVerificationToken\" type=\"hidden\" value=\"([^\"]*)\"").Groups[1].Value;

    [GeneratedRegex("<a class=\"govuk-service-navigation__link\" href=\"(?<href>[^\"]*)\" aria-current=\"page\"")]
    private static partial Regex CurrentLink();
}
