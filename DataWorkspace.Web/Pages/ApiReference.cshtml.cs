using DataWorkspace.Web.Documentation;
using DataWorkspace.Web.MachineApi;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace DataWorkspace.Web.Pages;

/// <summary>
/// The API reference: the OpenAPI documents drawn as a page in the portal's styles, with no script, so the portal's
/// Content-Security-Policy needs no exception for it (the OpenAPI UIs measured need inline styles).
/// </summary>
public sealed class ApiReferenceModel(IServiceProvider services) : PageModel
{
    public const string Path = "/api-reference";

    public IReadOnlyList<ApiReferenceDocument> Documents { get; private set; } = [];

    public async Task OnGetAsync(CancellationToken cancellationToken)
    {
        var documents = new List<ApiReferenceDocument>();
        foreach (var (name, address) in new[] { (ApiDocuments.Catalogue, ApiDocuments.Route.Replace("{documentName}", ApiDocuments.Catalogue, StringComparison.Ordinal)), (MachineApiDocument.Name, MachineApiDocument.PublicPath) })
        {
            var document = await services.GetRequiredKeyedService<IOpenApiDocumentProvider>(name).GetOpenApiDocumentAsync(cancellationToken);
            var operations = (document.Paths ?? [])
                .SelectMany(path => (path.Value.Operations ?? []).Select(operation => ApiReferenceOperation.Of(operation.Key.Method, path.Key, operation.Value)))
                .OrderBy(operation => operation.Path, StringComparer.Ordinal).ThenBy(operation => operation.Method, StringComparer.Ordinal)
                .ToList();
            documents.Add(new(name, document.Info?.Title ?? name, document.Info?.Description, address, operations));
        }

        Documents = documents;
    }
}

public sealed record ApiReferenceDocument(string Name, string Title, string? Description, string Address, IReadOnlyList<ApiReferenceOperation> Operations);

public sealed record ApiReferenceParameter(string Name, string In, bool Required, string? Description);

public sealed record ApiReferenceResponse(string Status, string? Description, IReadOnlyList<string> ContentTypes);

public sealed record ApiReferenceOperation(string Method, string Path, string? Summary, IReadOnlyList<string> Description, string? Scope,
    IReadOnlyList<ApiReferenceParameter> Parameters, IReadOnlyList<string> RequestTypes, IReadOnlyList<ApiReferenceResponse> Responses)
{
    /// <summary>An id for links to the operation: its method and path, made safe for a fragment.</summary>
    public string Anchor => System.Text.RegularExpressions.Regex.Replace($"{Method}-{Path}".ToLowerInvariant(), "[^a-z0-9]+", "-").Trim('-');

    public static ApiReferenceOperation Of(string method, string path, OpenApiOperation operation) => new(
        method.ToUpperInvariant(),
        path,
        operation.Summary,
        (operation.Description ?? "").Split("\n\n", StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
        operation.Extensions?.TryGetValue("x-dataworkspace-scope", out var scope) == true && scope is JsonNodeExtension { Node: { } node } ? node.ToString() : null,
        [.. (operation.Parameters ?? []).Select(p => new ApiReferenceParameter(p.Name ?? "", p.In?.ToString().ToLowerInvariant() ?? "", p.Required, p.Description))],
        [.. operation.RequestBody?.Content?.Keys ?? []],
        [.. (operation.Responses ?? []).Select(r => new ApiReferenceResponse(r.Key, r.Value.Description, [.. r.Value.Content?.Keys ?? []]))]);
}
