using System.Net;
using System.Net.Http.Json;
using DataWorkspace.Web.AccessRequests;
using DataWorkspace.Web.Catalogue;

namespace DataWorkspace.Web.Tests;

/// <summary>Each access type against each kind of reader, on the dataset page and the JSON API.</summary>
public sealed class CatalogueAccessTests(WebFixture web)
{
    private readonly CatalogueData data = new(web);
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private sealed record ApiDetail(string Slug, string AccessStatus, bool CanRead, DateTimeOffset? AccessExpiresAt);

    [Theory]
    [InlineData(AccessType.Open)]
    [InlineData(AccessType.RequiresAuthentication)]
    public async Task Open_and_authentication_only_datasets_show_their_rows_to_anyone_signed_in(AccessType accessType)
    {
        var dataset = await data.DatasetAsync(accessType);
        var stranger = CatalogueData.NewUser("elsewhere.example");

        var page = await PageAsync(dataset, stranger);
        var api = await ApiAsync(dataset, stranger);

        Assert.Contains("You have access to this data", page);
        Assert.Contains("alpha-", page);
        Assert.True(api.CanRead);
        Assert.Equal(nameof(AccessStatus.Everyone), api.AccessStatus);
    }

    [Fact]
    public async Task A_restricted_dataset_hides_its_rows_from_a_user_without_access()
    {
        var dataset = await data.DatasetAsync(AccessType.RequiresAuthorization);
        var stranger = CatalogueData.NewUser("trade.example");

        var page = await PageAsync(dataset, stranger);
        var api = await ApiAsync(dataset, stranger);

        Assert.Contains("You do not have access to this data", page);
        Assert.Contains("A preview of the data is shown once you have access", page);
        Assert.DoesNotContain("alpha-", page);
        Assert.False(api.CanRead);
        Assert.Equal(nameof(AccessStatus.None), api.AccessStatus);
    }

    [Fact]
    public async Task A_named_user_reads_a_restricted_dataset_and_others_still_cannot()
    {
        var dataset = await data.DatasetAsync(AccessType.RequiresAuthorization);
        var named = CatalogueData.NewUser("partner.example");
        var colleague = CatalogueData.NewUser("partner.example");
        await data.GrantAsync(dataset, named, expiresAt: null);

        Assert.Contains("alpha-", await PageAsync(dataset, named));
        Assert.Equal(nameof(AccessStatus.ByPermission), (await ApiAsync(dataset, named)).AccessStatus);
        Assert.DoesNotContain("alpha-", await PageAsync(dataset, colleague));
    }

    [Fact]
    public async Task An_email_domain_grants_its_users_and_no_one_else()
    {
        var dataset = await data.DatasetAsync(AccessType.RequiresAuthorization, domains: ["trade.example"]);
        var insider = CatalogueData.NewUser("trade.example");
        var outsider = CatalogueData.NewUser("partner.example");

        Assert.Contains("through your organisation's email domain", await PageAsync(dataset, insider));
        Assert.True((await ApiAsync(dataset, insider)).CanRead);
        Assert.DoesNotContain("alpha-", await PageAsync(dataset, outsider));
        Assert.False((await ApiAsync(dataset, outsider)).CanRead);
    }

    [Fact]
    public async Task Access_that_has_expired_is_gone_and_the_user_is_told_when_it_ended()
    {
        var dataset = await data.DatasetAsync(AccessType.RequiresAuthorization);
        var user = CatalogueData.NewUser("partner.example");
        await data.GrantAsync(dataset, user, expiresAt: DateTimeOffset.UtcNow.AddDays(-1));

        var page = await PageAsync(dataset, user);
        var api = await ApiAsync(dataset, user);

        Assert.Contains("Your access to this data ended on", page);
        Assert.DoesNotContain("alpha-", page);
        Assert.Equal(nameof(AccessStatus.Expired), api.AccessStatus);
        Assert.False(api.CanRead);
    }

    [Fact]
    public async Task Access_until_a_date_says_until_when()
    {
        var dataset = await data.DatasetAsync(AccessType.RequiresAuthorization);
        var user = CatalogueData.NewUser("partner.example");
        var until = DateTimeOffset.UtcNow.AddDays(30);
        await data.GrantAsync(dataset, user, until);

        var page = await PageAsync(dataset, user);
        var api = await ApiAsync(dataset, user);

        Assert.Contains($"until {until:d MMMM yyyy}", page);
        Assert.Equal(until.ToUnixTimeSeconds(), api.AccessExpiresAt!.Value.ToUnixTimeSeconds());
    }

    [Fact]
    public async Task My_access_lists_restricted_datasets_the_user_can_read_and_how()
    {
        var byDomain = await data.DatasetAsync(AccessType.RequiresAuthorization, domains: ["granted.example"]);
        var byPermission = await data.DatasetAsync(AccessType.RequiresAuthorization);
        var notMine = await data.DatasetAsync(AccessType.RequiresAuthorization);
        var user = CatalogueData.NewUser("granted.example");
        await data.GrantAsync(byPermission, user, DateTimeOffset.UtcNow.AddDays(5));

        var response = await web.GetAsync("/api/v1/me/access", user);
        var items = (await response.Content.ReadFromJsonAsync<MyAccess>(Cancel))!.Datasets;

        Assert.Contains(items!, i => i.Slug == byDomain.Slug && i.How == "email domain");
        Assert.Contains(items!, i => i.Slug == byPermission.Slug && i.How == "permission" && i.ExpiresAt is not null);
        Assert.DoesNotContain(items!, i => i.Slug == notMine.Slug);
    }

    [Fact]
    public async Task An_unknown_dataset_is_a_404_page_and_a_404_from_the_api()
    {
        var user = CatalogueData.NewUser("trade.example");

        var page = await web.GetAsync("/datasets/no-such-dataset", user);
        var api = await web.GetAsync("/api/v1/datasets/no-such-dataset", user);

        Assert.Equal(HttpStatusCode.NotFound, page.StatusCode);
        Assert.Contains("Page not found", await page.Content.ReadAsStringAsync(Cancel));
        Assert.Equal(HttpStatusCode.NotFound, api.StatusCode);
    }

    private async Task<string> PageAsync(Dataset dataset, DataWorkspace.Contracts.PlatformIdentity user)
    {
        var response = await web.GetAsync($"/datasets/{dataset.Slug}", user);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsStringAsync(Cancel);
    }

    private async Task<ApiDetail> ApiAsync(Dataset dataset, DataWorkspace.Contracts.PlatformIdentity user)
    {
        var response = await web.GetAsync($"/api/v1/datasets/{dataset.Slug}", user);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<ApiDetail>(Cancel))!;
    }
}
