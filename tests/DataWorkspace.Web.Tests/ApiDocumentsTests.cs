using System.Net;
using System.Text.Json;

namespace DataWorkspace.Web.Tests;

/// <summary>Each API has its own OpenAPI document listing its paths; the machine one says how to sign requests.</summary>
public sealed class ApiDocumentsTests(WebFixture web)
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task The_catalogue_document_lists_the_catalogue_api_and_not_the_machine_api()
    {
        using var document = await JsonAsync(await web.GetAsync("/api/openapi/catalogue.json", CatalogueData.NewUser("trade.example")));
        var paths = document.RootElement.GetProperty("paths").EnumerateObject().Select(p => p.Name).ToList();

        Assert.Contains("/api/v1/datasets", paths);
        Assert.Contains("/api/v1/datasets/{slug}", paths);
        Assert.DoesNotContain(paths, p => p.StartsWith("/api/machine", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_catalogue_document_gives_a_tool_starts_answers_and_refusals_and_its_states_by_name()
    {
        using var document = await JsonAsync(await web.GetAsync("/api/openapi/catalogue.json", CatalogueData.NewUser("trade.example")));
        var start = document.RootElement.GetProperty("paths").GetProperty("/api/v1/tools/{basename}/start").GetProperty("post").GetProperty("responses");

        Assert.Equal(["200", "202", "400", "403", "404", "409"], start.EnumerateObject().Select(r => r.Name).Order());
        var state = document.RootElement.GetProperty("components").GetProperty("schemas").GetProperty("ToolInstanceState");
        Assert.Equal(["None", "Spawning", "Running", "Stopped"], state.GetProperty("enum").EnumerateArray().Select(v => v.GetString()));
    }

    [Fact]
    public async Task Every_string_property_in_both_documents_is_documented_as_a_string()
    {
        foreach (var name in new[] { "catalogue", "machine" })
        {
            using var document = await JsonAsync(await web.GetAsync($"/api/openapi/{name}.json", CatalogueData.NewUser("trade.example")));
            var schemas = document.RootElement.GetProperty("components").GetProperty("schemas");
            // Any property documented as "any value" ({}): a string the schema generator could not see into.
            var untyped = schemas.EnumerateObject()
                .Where(schema => schema.Value.TryGetProperty("properties", out _))
                .SelectMany(schema => schema.Value.GetProperty("properties").EnumerateObject()
                    .Where(property => property.Value.ValueKind == JsonValueKind.Object && !property.Value.EnumerateObject().Any())
                    .Select(property => $"{schema.Name}.{property.Name}"))
                .ToList();
            Assert.True(untyped.Count == 0, $"{name}: documented as any value: {string.Join(", ", untyped)}");
            Assert.Contains(schemas.EnumerateObject(), schema => schema.Value.TryGetProperty("properties", out var properties)
                && properties.EnumerateObject().Any(property => property.Value.TryGetProperty("type", out var type) && type.ToString().Contains("string", StringComparison.Ordinal)));
        }
    }

    [Fact]
    public async Task The_catalogue_document_lists_each_response_an_endpoint_can_give()
    {
        using var document = await JsonAsync(await web.GetAsync("/api/openapi/catalogue.json", CatalogueData.NewUser("trade.example")));
        var paths = document.RootElement.GetProperty("paths");
        JsonElement Responses(string path, string method) => paths.GetProperty(path).GetProperty(method).GetProperty("responses");
        IEnumerable<string> Statuses(string path, string method) => Responses(path, method).EnumerateObject().Select(r => r.Name).Order();
        IEnumerable<string> ContentTypes(string path, string method, string status) =>
            Responses(path, method).GetProperty(status).GetProperty("content").EnumerateObject().Select(c => c.Name).Order();

        Assert.Equal(["200", "202", "400"], Statuses("/api/v1/explorer/run", "post"));
        Assert.Equal(["200", "404"], Statuses("/api/v1/explorer/queries/{id}", "get"));
        Assert.Equal(["200", "400", "404"], Statuses("/api/v1/explorer/queries/{id}/download", "get"));
        Assert.Equal(["application/json", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "text/csv"],
            ContentTypes("/api/v1/explorer/queries/{id}/download", "get", "200"));
        // PostgreSQL's error as JSON, or a problem when there is nothing to explain: both under 400.
        Assert.Equal(["application/json", "application/problem+json"], ContentTypes("/api/v1/explorer/explain", "post", "400"));
        Assert.Equal(["201", "400"], Statuses("/api/v1/explorer/saved", "post"));
        Assert.Equal(["200", "400", "404"], Statuses("/api/v1/explorer/queries/{id}/chart", "get"));
        Assert.Equal(["204", "404"], Statuses("/api/v1/explorer/saved/{id}", "delete"));
        Assert.Equal(["200", "404"], Statuses("/api/v1/datasets/{slug}", "get"));
    }

    [Fact]
    public async Task The_machine_document_lists_its_paths_and_the_hawk_scheme()
    {
        using var document = await JsonAsync(await web.GetAsync("/api/openapi/machine.json", CatalogueData.NewUser("trade.example")));
        var paths = document.RootElement.GetProperty("paths").EnumerateObject().Select(p => p.Name).ToList();

        Assert.Equal(["/api/machine/v1/datasets", "/api/machine/v1/datasets/{slug}", "/api/machine/v1/datasets/{slug}/tables/{table}/rows"], paths.Order());
        Assert.Equal("Hawk", document.RootElement.GetProperty("components").GetProperty("securitySchemes").GetProperty("Hawk").GetProperty("scheme").GetString());
        Assert.True(document.RootElement.GetProperty("security")[0].TryGetProperty("Hawk", out _));
    }

    [Fact]
    public async Task The_machine_document_is_public_for_client_authors_and_the_catalogue_one_is_not()
    {
        using var client = web.Factory.CreateClient();

        var machine = await client.GetAsync("/api/machine/openapi.json", Cancel);
        var catalogue = await client.GetAsync("/api/openapi/catalogue.json", Cancel);

        using var document = await JsonAsync(machine);
        Assert.Contains("/api/machine/v1/datasets", document.RootElement.GetProperty("paths").EnumerateObject().Select(p => p.Name));
        Assert.Equal(HttpStatusCode.Unauthorized, catalogue.StatusCode);
    }

    [Fact]
    public async Task Every_operation_in_both_documents_has_a_summary_and_typed_responses()
    {
        var gaps = new List<string>();
        foreach (var name in new[] { "catalogue", "machine" })
        {
            using var document = await JsonAsync(await web.GetAsync($"/api/openapi/{name}.json", CatalogueData.NewUser("trade.example")));
            foreach (var path in document.RootElement.GetProperty("paths").EnumerateObject())
            foreach (var operation in path.Value.EnumerateObject())
            {
                var where = $"{name}: {operation.Name.ToUpperInvariant()} {path.Name}";
                if (!operation.Value.TryGetProperty("summary", out var summary) || string.IsNullOrWhiteSpace(summary.GetString()))
                    gaps.Add($"{where} has no summary");
                var responses = operation.Value.GetProperty("responses").EnumerateObject().ToList();
                if (!responses.Any(r => r.Name.StartsWith('2')))
                    gaps.Add($"{where} declares no success response");
                // A response with a body says what the body is: 204 and redirects have none.
                foreach (var response in responses.Where(r => r.Name != "204" && !r.Name.StartsWith('3')))
                {
                    var typed = response.Value.TryGetProperty("content", out var content)
                        && content.EnumerateObject().Any()
                        && content.EnumerateObject().All(c => c.Value.TryGetProperty("schema", out _));
                    if (!typed) gaps.Add($"{where} {response.Name} has no typed body");
                }
            }
        }

        Assert.True(gaps.Count == 0, string.Join("\n", gaps));
    }

    [Fact]
    public async Task The_api_reference_page_shows_every_operation_of_both_documents_with_its_summary_and_scope()
    {
        var user = CatalogueData.NewUser("trade.example");
        using var response = await web.GetAsync("/api-reference", user);
        var page = System.Net.WebUtility.HtmlDecode(await response.Content.ReadAsStringAsync(Cancel));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.DoesNotContain("<script>", page);
        var operations = 0;
        foreach (var name in new[] { "catalogue", "machine" })
        {
            using var document = await JsonAsync(await web.GetAsync($"/api/openapi/{name}.json", user));
            foreach (var path in document.RootElement.GetProperty("paths").EnumerateObject())
            foreach (var operation in path.Value.EnumerateObject())
            {
                operations++;
                Assert.Contains($"<code>{operation.Name.ToUpperInvariant()} {path.Name}</code>", page);
                Assert.Contains(operation.Value.GetProperty("summary").GetString()!, page);
                if (operation.Value.TryGetProperty("x-dataworkspace-scope", out var scope))
                    Assert.Contains($"<code>{scope.GetString()}</code>", page);
            }
        }

        Assert.Equal(operations, System.Text.RegularExpressions.Regex.Count(page, "data-testid=\"api-operation\""));
    }

    private static async Task<JsonDocument> JsonAsync(HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(Cancel), cancellationToken: Cancel);
    }
}
