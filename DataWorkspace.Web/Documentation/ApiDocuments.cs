using DataWorkspace.Web.MachineApi;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace DataWorkspace.Web.Documentation;

/// <summary>
/// OpenAPI documents for the two JSON APIs: the catalogue API scripts call with a user's session, and the machine API
/// other systems call with Hawk. Separate documents, because their callers and their authentication differ.
/// </summary>
public static class ApiDocuments
{
    public const string Catalogue = "catalogue";
    public const string Machine = MachineApiEndpoints.GroupName;
    public const string Route = "/api/openapi/{documentName}.json";

    /// <summary>The machine document again, on a path the proxy forwards without a session, so client authors can fetch it.</summary>
    public const string PublicMachineDocument = "/api/machine/openapi.json";

    public static IServiceCollection AddApiDocuments(this IServiceCollection services)
    {
        services.AddOpenApi(Catalogue, options =>
        {
            options.AddOperationTransformer(ListEveryDeclaredResponse);
            options.ShouldInclude = description => description.RelativePath?.StartsWith("api/v1/", StringComparison.Ordinal) == true;
            options.AddDocumentTransformer((document, _, _) =>
            {
                document.Info.Title = "Data Workspace catalogue API";
                document.Info.Description = "For signed-in users and their scripts: requests go through the Data Workspace proxy with the user's session.";
                return Task.CompletedTask;
            });
        });

        services.AddOpenApi(Machine, options =>
        {
            options.AddOperationTransformer(ListEveryDeclaredResponse);
            options.ShouldInclude = description => description.GroupName == Machine;
            options.AddDocumentTransformer((document, _, _) =>
            {
                document.Info.Title = "Data Workspace machine API";
                document.Info.Description = "For other systems: each request is signed with Hawk (SHA-256) using the key configured for the client's id.";
                document.Components ??= new OpenApiComponents();
                document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
                document.Components.SecuritySchemes[HawkAuthenticationHandler.SchemeName] = new OpenApiSecurityScheme
                {
                    Type = SecuritySchemeType.Http,
                    Scheme = HawkHeader.Scheme,
                    Description = "Hawk 1 header authentication (https://github.com/mozilla/hawk): Authorization: Hawk id=\"<client id>\", " +
                        "ts=\"<unix seconds>\", nonce=\"<random, never reused>\", mac=\"<base64 HMAC-SHA256>\" over the normalized string " +
                        "\"hawk.1.header\\n{ts}\\n{nonce}\\n{METHOD}\\n{path and query}\\n{host}\\n{port}\\n{hash}\\n{ext}\\n\", with the " +
                        "host and port the client called. Timestamps must be within the clock-skew window; a stale one is answered " +
                        "with ts and tsm in WWW-Authenticate.",
                };
                document.Security = [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(HawkAuthenticationHandler.SchemeName, document)] = [] }];
                return Task.CompletedTask;
            });
        });
        return services;
    }

    /// <summary>
    /// Lists each response shape an endpoint declares, also when two share a status (a JSON body and a problem under
    /// 400, say): the API explorer keeps one per status.
    /// </summary>
    private static async Task ListEveryDeclaredResponse(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
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

        app.MapGet(PublicMachineDocument, async Task<ContentHttpResult> ([FromKeyedServices(Machine)] IOpenApiDocumentProvider documents, CancellationToken cancellationToken) =>
        {
            var document = await documents.GetOpenApiDocumentAsync(cancellationToken);
            return TypedResults.Text(await document.SerializeAsJsonAsync(OpenApiSpecVersion.OpenApi3_1, cancellationToken), "application/json; charset=utf-8");
        }).AllowAnonymous().ExcludeFromDescription();
        return app;
    }
}
