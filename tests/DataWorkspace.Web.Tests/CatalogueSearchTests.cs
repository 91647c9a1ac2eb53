using System.Net;
using System.Net.Http.Json;
using DataWorkspace.Web.Catalogue;

namespace DataWorkspace.Web.Tests;

public sealed class CatalogueSearchTests(WebFixture web)
{
    private readonly CatalogueData data = new(web);
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Search_finds_datasets_by_words_in_their_name_ranked_and_counts_access_among_the_results()
    {
        var word = "zeb" + Guid.NewGuid().ToString("N")[..8];
        var open = await data.DatasetAsync(AccessType.Open, name: $"Quarterly {word} figures");
        var restricted = await data.DatasetAsync(AccessType.RequiresAuthorization, name: $"Detailed {word} records");
        var user = CatalogueData.NewUser("partner.example");

        var all = await web.GetAsync($"/api/v1/datasets?q={word}", user);
        var list = await all.Content.ReadFromJsonAsync<CatalogueApi.DatasetList>(Cancel);
        var page = await (await web.GetAsync($"/datasets?q={word}", user)).Content.ReadAsStringAsync(Cancel);
        var onlyMine = await (await web.GetAsync($"/datasets?q={word}&access=true", user)).Content.ReadAsStringAsync(Cancel);

        Assert.Equal(2, list!.Total);
        Assert.Equal(new[] { open.Slug, restricted.Slug }.Order(), list.Results.Select(r => r.Slug).Order());
        Assert.Contains("Data I have access to (1)", page);
        Assert.Contains(">2 datasets<", page);
        Assert.Contains(">1 dataset<", onlyMine);
        Assert.Contains(open.Name, onlyMine);
        Assert.DoesNotContain(restricted.Name, onlyMine);
    }

    [Fact]
    public async Task Two_colleagues_see_their_own_access_and_bookmarks_in_the_same_search()
    {
        var word = "ibex" + Guid.NewGuid().ToString("N")[..8];
        var open = await data.DatasetAsync(AccessType.Open, name: $"{word} open");
        var granted = await data.DatasetAsync(AccessType.RequiresAuthorization, name: $"{word} granted");
        await data.DatasetAsync(AccessType.RequiresAuthorization, name: $"{word} closed");
        var holder = CatalogueData.NewUser("partner.example");
        var colleague = CatalogueData.NewUser("partner.example");
        await data.GrantAsync(granted, holder, expiresAt: null);
        await web.ScalarAsync<object>("INSERT INTO bookmarks (user_id, dataset_id, created_at) VALUES ($1, $2, now())", holder.UserId, open.Id);

        async Task<string> PageAsync(string query, DataWorkspace.Contracts.PlatformIdentity user) =>
            await (await web.GetAsync($"/datasets?q={word}{query}", user)).Content.ReadAsStringAsync(Cancel);

        // The colleague first, then the holder, then the colleague again: the shared work must not leak between them.
        var colleagueBefore = await PageAsync("", colleague);
        var holderAll = await PageAsync("", holder);
        var holderReadable = await PageAsync("&access=true", holder);
        var holderBookmarked = await PageAsync("&bookmarked=true", holder);
        var colleagueAfter = await PageAsync("", colleague);
        var colleagueReadable = await PageAsync("&access=true", colleague);

        Assert.Contains("Data I have access to (2)", holderAll);
        Assert.Contains("Bookmarked (1)", holderAll);
        Assert.Contains(">2 datasets<", holderReadable);
        Assert.Contains(granted.Name, holderReadable);
        Assert.Contains(">1 dataset<", holderBookmarked);
        Assert.Contains(open.Name, holderBookmarked);
        foreach (var page in new[] { colleagueBefore, colleagueAfter })
        {
            Assert.Contains("Data I have access to (1)", page);
            Assert.Contains("Bookmarked (0)", page);
        }

        Assert.Contains(">1 dataset<", colleagueReadable);
        Assert.DoesNotContain(granted.Name, colleagueReadable);
    }

    [Fact]
    public async Task The_second_page_of_results_shows_the_next_twenty()
    {
        var word = "okapi" + Guid.NewGuid().ToString("N")[..8];
        for (var i = 1; i <= 25; i++) await data.DatasetAsync(AccessType.Open, name: $"{word} number {i:00}");
        var user = CatalogueData.NewUser("partner.example");

        var first = await (await web.GetAsync($"/datasets?q={word}&sort=Name", user)).Content.ReadAsStringAsync(Cancel);
        var second = await (await web.GetAsync($"/datasets?q={word}&sort=Name&page=2", user)).Content.ReadAsStringAsync(Cancel);

        Assert.Contains($"{word} number 01", first);
        Assert.DoesNotContain($"{word} number 21", first);
        Assert.Contains($"{word} number 21", second);
        Assert.Contains($"{word} number 25", second);
        Assert.DoesNotContain($"{word} number 01", second);
    }

    [Fact]
    public async Task A_match_in_the_name_ranks_above_a_match_in_the_summary()
    {
        var word = "gnu" + Guid.NewGuid().ToString("N")[..8];
        var inSummary = await data.DatasetAsync(AccessType.Open, name: "Aardvark statistics", shortDescription: $"Mentions {word} in passing");
        var inName = await data.DatasetAsync(AccessType.Open, name: $"The {word} register");

        var response = await web.GetAsync($"/api/v1/datasets?q={word}", CatalogueData.NewUser("x.example"));
        var list = await response.Content.ReadFromJsonAsync<CatalogueApi.DatasetList>(Cancel);

        Assert.Equal([inName.Slug, inSummary.Slug], list!.Results.Select(r => r.Slug));
    }

    [Fact]
    public async Task Facet_counts_apply_every_other_filter()
    {
        var word = "yak" + Guid.NewGuid().ToString("N")[..8];
        var first = await data.DatasetAsync(AccessType.Open, name: $"{word} one");
        await data.DatasetAsync(AccessType.Open, name: $"{word} two");
        var user = CatalogueData.NewUser("partner.example");

        var filtered = await (await web.GetAsync($"/datasets?q={word}&publisher={Uri.EscapeDataString(first.Publisher)}", user)).Content.ReadAsStringAsync(Cancel);

        Assert.Contains(">1 dataset<", filtered);
        // Each publisher's count ignores the publisher filter itself, so the other publisher still shows its one result.
        Assert.Contains($"{first.Publisher} (1)", filtered);
        Assert.Contains("Source dataset (1)", filtered);
    }

    [Theory]
    [InlineData("'; DROP TABLE datasets; --")]
    [InlineData("<script>alert(1)</script>")]
    [InlineData("100% _match_ \\ \"quoted")]
    public async Task Search_terms_with_sql_or_html_metacharacters_are_just_text(string text)
    {
        var user = CatalogueData.NewUser("partner.example");

        var response = await web.GetAsync($"/datasets?q={Uri.EscapeDataString(text)}", user);
        var html = await response.Content.ReadAsStringAsync(Cancel);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.DoesNotContain("<script>alert(1)</script>", html);
        Assert.NotNull(await DataWorkspace.TestSupport.Sql.ScalarAsync<long?>(web.CatalogueConnectionString, "SELECT count(*) FROM datasets"));
    }

    [Fact]
    public async Task An_unknown_type_filter_in_the_api_is_refused_with_the_valid_values()
    {
        var user = CatalogueData.NewUser("partner.example");

        var response = await web.GetAsync("/api/v1/datasets?type=Spreadsheet", user);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("SourceDataset", await response.Content.ReadAsStringAsync(Cancel));
    }

    [Fact]
    public async Task Descriptions_render_markdown_but_never_raw_html_or_script_links()
    {
        var dataset = await data.DatasetAsync(AccessType.Open);
        await using (var context = data.Context())
        {
            var stored = await context.Datasets.FindAsync([dataset.Id], Cancel);
            stored!.Description = "**bold** <img src=x onerror=alert(1)> [click](javascript:alert(2))";
            await context.SaveChangesAsync(Cancel);
        }

        var html = await (await web.GetAsync($"/datasets/{dataset.Slug}", CatalogueData.NewUser("x.example"))).Content.ReadAsStringAsync(Cancel);

        Assert.Contains("<strong>bold</strong>", html);
        Assert.DoesNotContain("<img src=x", html);
        Assert.DoesNotContain("javascript:alert(2)", html);
    }
}
