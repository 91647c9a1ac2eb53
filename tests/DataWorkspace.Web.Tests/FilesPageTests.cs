using System.Net;

namespace DataWorkspace.Web.Tests;

/// <summary>The "Your files" page as the web app serves it: a shell in the portal's layout that its bundled script fills.</summary>
public sealed class FilesPageTests(WebFixture web)
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task The_navigation_marks_Your_files_as_the_current_page_and_the_page_loads_its_script_with_a_message_for_browsers_without_JavaScript()
    {
        using var response = await web.GetAsync("/files", CatalogueData.NewUser("partner.example"));
        var html = await response.Content.ReadAsStringAsync(Cancel);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("<a class=\"govuk-service-navigation__link\" href=\"/files\" aria-current=\"page\" data-testid=\"files-link\"><strong class=\"govuk-service-navigation__active-fallback\">Your files</strong></a>", html);
        Assert.Contains("<h1 class=\"govuk-heading-xl\">Your files</h1>", html);
        Assert.Contains("id=\"files-app\"", html);
        Assert.Contains("<noscript>", html);
        Assert.Contains("<script type=\"module\" src=\"/dist/files.js\"></script>", html);
        Assert.DoesNotContain("<script>", html);
        Assert.DoesNotContain(" style=\"", html);
    }

    [Fact]
    public async Task The_pages_script_is_built_and_served()
    {
        using var response = await web.GetAsync("/dist/files.js", CatalogueData.NewUser("partner.example"));
        var script = await response.Content.ReadAsStringAsync(Cancel);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/javascript", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("/api/v1/files", script);
    }
}
