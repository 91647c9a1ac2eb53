using DataWorkspace.Web.Documentation;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace DataWorkspace.Web.MachineApi;

/// <summary>The machine API's own OpenAPI document (other systems call it with Hawk), and a copy client authors can fetch without a session.</summary>
public static class MachineApiDocument
{
    public const string Name = MachineApiEndpoints.GroupName;

    /// <summary>The document again, on a path the proxy forwards without a session.</summary>
    public const string PublicPath = "/api/machine/openapi.json";

    public static IServiceCollection AddMachineApiDocument(this IServiceCollection services)
    {
        services.AddOpenApi(Name, options =>
        {
            options.AddOperationTransformer(ApiDocuments.ListEveryDeclaredResponse);
            options.AddSchemaTransformer(ApiDocuments.StringsAreStrings);
            options.ShouldInclude = description => description.GroupName == Name;
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

    public static IEndpointRouteBuilder MapMachineApiDocument(this IEndpointRouteBuilder app)
    {
        app.MapGet(PublicPath, async Task<ContentHttpResult> ([FromKeyedServices(Name)] IOpenApiDocumentProvider documents, CancellationToken cancellationToken) =>
        {
            var document = await documents.GetOpenApiDocumentAsync(cancellationToken);
            return TypedResults.Text(await document.SerializeAsJsonAsync(OpenApiSpecVersion.OpenApi3_1, cancellationToken), "application/json; charset=utf-8");
        }).AllowAnonymous().ExcludeFromDescription();
        return app;
    }
}
