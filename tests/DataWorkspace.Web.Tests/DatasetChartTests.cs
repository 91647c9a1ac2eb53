using System.Text.RegularExpressions;
using DataWorkspace.TestSupport;
using DataWorkspace.Web.Catalogue;

namespace DataWorkspace.Web.Tests;

/// <summary>A dataset page charts a table's numbers over its date column, for readers, with the chart's data as a table.</summary>
public sealed partial class DatasetChartTests(WebFixture web)
{
    private readonly CatalogueData data = new(web);
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private async Task<Dataset> DatasetWithSalesAsync(AccessType access, string rows)
    {
        var dataset = await data.DatasetAsync(access);
        var schema = dataset.Tables[0].Schema;
        await Sql.ScalarAsync<object>(web.DatasetsConnectionString,
            $"CREATE TABLE {schema}.sales (id int, customer_id int, sold_on date, units int, revenue numeric, note text); INSERT INTO {schema}.sales VALUES {rows}");
        await using var context = data.Context();
        context.Add(new SourceTable { DatasetId = dataset.Id, Name = "Sales", Schema = schema, Table = "sales" });
        await context.SaveChangesAsync(Cancel);
        return dataset;
    }

    private async Task<string> PageAsync(Dataset dataset, DataWorkspace.Contracts.PlatformIdentity user)
    {
        using var response = await web.GetAsync($"/datasets/{dataset.Slug}", user);
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadAsStringAsync(Cancel);
    }

    [Fact]
    public async Task Numbers_over_more_than_a_year_are_summed_by_month_and_identifiers_are_left_out()
    {
        var dataset = await DatasetWithSalesAsync(AccessType.Open,
            "(1, 7, '2024-01-03', 5, 10.5, 'a'), (2, 7, '2024-01-20', 1, 2, 'b'), (3, 8, '2024-02-01', 4, NULL, 'c'), (4, 8, '2025-06-30', 10, 100, 'd'), (5, 9, NULL, 99, 99, 'e')");

        var page = await PageAsync(dataset, CatalogueData.NewUser("elsewhere.example"));

        Assert.Contains("data-testid=\"dataset-chart\"", page);
        Assert.Contains("Sum of units and revenue by month of sold_on, over all 4 rows", Regex.Replace(page, @"\s+", " "));
        Assert.Contains("<script type=\"module\" src=\"/dist/dataset-chart.js\"></script>", page);
        var table = page[page.IndexOf("data-chart-table", StringComparison.Ordinal)..];
        table = table[..table.IndexOf("</table>", StringComparison.Ordinal)];
        Assert.DoesNotContain(">id<", table);
        Assert.DoesNotContain(">customer_id<", table);
        Assert.Equal(["2024-01-01", "2024-02-01", "2025-06-01"], DateValues().Matches(table).Select(m => m.Groups[1].Value));
        // February's revenue is all NULL: an empty cell.
        Assert.Equal(["6", "12.5", "4", "", "10", "100"], NumberValues().Matches(table).Select(m => m.Groups[1].Value));
    }

    [Fact]
    public async Task Tables_without_dated_numbers_and_readers_without_access_get_no_chart()
    {
        var plain = await data.DatasetAsync(AccessType.Open);
        Assert.DoesNotContain("data-testid=\"dataset-chart\"", await PageAsync(plain, CatalogueData.NewUser("elsewhere.example")));
        Assert.DoesNotContain("dataset-chart.js", await PageAsync(plain, CatalogueData.NewUser("elsewhere.example")));

        var restricted = await DatasetWithSalesAsync(AccessType.RequiresAuthorization, "(1, 7, '2024-01-03', 5, 10.5, 'a')");
        var page = await PageAsync(restricted, CatalogueData.NewUser("elsewhere.example"));
        Assert.Contains("A preview of the data is shown once you have access", page);
        Assert.DoesNotContain("data-testid=\"dataset-chart\"", page);
    }

    [GeneratedRegex("<th scope=\"row\" class=\"govuk-table__header\" data-value=\"([0-9-]+)\"")]
    private static partial Regex DateValues();

    [GeneratedRegex("govuk-table__cell--numeric\" data-value=\"([^\"]*)\"")]
    private static partial Regex NumberValues();
}
