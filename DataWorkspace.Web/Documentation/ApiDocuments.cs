using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace DataWorkspace.Web.Documentation;

/// <summary>
/// OpenAPI documents, served at <see cref="Route"/>: here the catalogue API's, which scripts call with a user's session;
/// an API whose callers and authentication differ adds its own (the machine API's, in MachineApi).
/// </summary>
public static class ApiDocuments
{
    public const string Catalogue = "catalogue";
    public const string Route = "/api/openapi/{documentName}.json";

    public static IServiceCollection AddApiDocuments(this IServiceCollection services)
    {
        services.AddOpenApi(Catalogue, options =>
        {
            options.AddOperationTransformer(ListEveryDeclaredResponse);
            options.AddSchemaTransformer(StringsAreStrings);
            options.ShouldInclude = description => description.RelativePath?.StartsWith("api/v1/", StringComparison.Ordinal) == true;
            options.AddDocumentTransformer((document, _, _) =>
            {
                document.Info.Title = "Data Workspace catalogue API";
                document.Info.Description = "For signed-in users and their scripts: requests go through the Data Workspace proxy with the user's session.";
                return Task.CompletedTask;
            });
        });
        return services;
    }

    /// <summary>
    /// Strings go through the portal's own converter (<see cref="Security.StorableStrings"/>), which the schema
    /// generator cannot see into: without this, every string would be documented as any value (<c>{}</c>).
    /// </summary>
    public static Task StringsAreStrings(OpenApiSchema schema, OpenApiSchemaTransformerContext context, CancellationToken cancellationToken)
    {
        if (context.JsonTypeInfo.Type == typeof(string) && schema.Type is null) schema.Type = JsonSchemaType.String;
        return Task.CompletedTask;
    }

    /// <summary>
    /// Lists each response shape an endpoint declares, also when two share a status (a JSON body and a problem under
    /// 400, say): the API explorer keeps one per status.
    /// </summary>
    public static async Task ListEveryDeclaredResponse(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        foreach (var declared in context.Description.ActionDescriptor.EndpointMetadata.OfType<IProducesResponseTypeMetadata>())
        {
            var status = declared.StatusCode.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (declared.Type is null || operation.Responses?.GetValueOrDefault(status) is not OpenApiResponse response) continue;
            response.Content ??= new Dictionary<string, OpenApiMediaType>();
            foreach (var contentType in declared.ContentTypes.Where(contentType => !response.Content.ContainsKey(contentType)))
                response.Content[contentType] = new OpenApiMediaType { Schema = await context.GetOrCreateSchemaAsync(declared.Type, null, cancellationToken) };
        }
    }

    public static IEndpointRouteBuilder MapApiDocuments(this IEndpointRouteBuilder app)
    {
        // Under the fallback policy: signed-in users only.
        app.MapOpenApi(Route);
        return app;
    }
}
