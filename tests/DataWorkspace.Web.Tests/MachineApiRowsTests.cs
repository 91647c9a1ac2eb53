using System.Net;
using System.Text.Json;
using DataWorkspace.Web.Catalogue;

namespace DataWorkspace.Web.Tests;

/// <summary>Rows come in pages in a stable order, with a link to the next page until there is none.</summary>
public sealed class MachineApiRowsTests(WebFixture web, MachineApiFixture machine) : IClassFixture<MachineApiFixture>
{
    private readonly CatalogueData data = new(web);
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Pages_of_two_rows_link_to_the_next_page_until_the_last()
    {
        var dataset = await data.DatasetAsync(AccessType.Open);

        using var first = await JsonAsync($"/api/machine/v1/datasets/{dataset.Slug}/tables/rows/rows?pageSize=2");
        var next = first.RootElement.GetProperty("next").GetString()!;
        using var last = await JsonAsync(next);

        Assert.Equal(["id", "label"], first.RootElement.GetProperty("columns").EnumerateArray().Select(c => c.GetProperty("name").GetString()));
        Assert.Equal([1, 2], first.RootElement.GetProperty("rows").EnumerateArray().Select(r => r[0].GetInt32()));
        Assert.StartsWith("alpha-", first.RootElement.GetProperty("rows")[0][1].GetString());
        Assert.Contains("page=2", next);
        Assert.Equal([3], last.RootElement.GetProperty("rows").EnumerateArray().Select(r => r[0].GetInt32()));
        Assert.Equal(JsonValueKind.Null, last.RootElement.GetProperty("rows")[0][1].ValueKind);
        Assert.Equal(JsonValueKind.Null, last.RootElement.GetProperty("next").ValueKind);
    }

    [Fact]
    public async Task The_default_page_holds_every_row_of_a_small_table_and_no_next_link()
    {
        var dataset = await data.DatasetAsync(AccessType.Open);

        using var page = await JsonAsync($"/api/machine/v1/datasets/{dataset.Slug}/tables/rows/rows");

        Assert.Equal(3, page.RootElement.GetProperty("rows").GetArrayLength());
        Assert.Equal(1000, page.RootElement.GetProperty("pageSize").GetInt32());
        Assert.Equal(JsonValueKind.Null, page.RootElement.GetProperty("next").ValueKind);
    }

    [Theory]
    [InlineData("pageSize=0")]
    [InlineData("pageSize=10001")]
    [InlineData("page=0")]
    public async Task A_page_or_page_size_out_of_range_is_a_400_that_says_the_limits(string query)
    {
        var dataset = await data.DatasetAsync(AccessType.Open);

        var response = await machine.GetAsync(machine.Partner, $"/api/machine/v1/datasets/{dataset.Slug}/tables/rows/rows?{query}");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("out of range", await response.Content.ReadAsStringAsync(Cancel));
    }

    [Fact]
    public async Task The_dataset_list_and_detail_give_each_tables_rows_link()
    {
        var dataset = await data.DatasetAsync(AccessType.Open);

        using var detail = await JsonAsync($"/api/machine/v1/datasets/{dataset.Slug}");
        var rowsUrl = detail.RootElement.GetProperty("tables")[0].GetProperty("rowsUrl").GetString()!;
        using var rows = await JsonAsync(rowsUrl);

        Assert.Equal(dataset.Publisher, detail.RootElement.GetProperty("publisher").GetString());
        Assert.Equal(3, rows.RootElement.GetProperty("rows").GetArrayLength());
    }

    private async Task<JsonDocument> JsonAsync(string path)
    {
        var response = await machine.GetAsync(machine.Partner, path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(Cancel), cancellationToken: Cancel);
    }
}
