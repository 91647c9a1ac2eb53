using System.Text.Json.Nodes;
using DataWorkspace.Contracts;
using DataWorkspace.Web.Documentation;
using DataWorkspace.Web.Security;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace DataWorkspace.Web.ApiTokens;

/// <summary>
/// The catalogue API's document describes both ways in: the browser's session, and a personal API token as a bearer
/// token, with the scope each operation needs (or that it takes no token at all).
/// </summary>
public static class ApiTokenDocumentation
{
    public const string SessionScheme = "session";
    public const string TokenScheme = "apiToken";

    public static IServiceCollection AddApiTokenDocumentation(this IServiceCollection services)
    {
        services.Configure<OpenApiOptions>(ApiDocuments.Catalogue, options =>
        {
            options.AddDocumentTransformer((document, _, _) =>
            {
                document.Components ??= new OpenApiComponents();
                document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
                document.Components.SecuritySchemes[SessionScheme] = new OpenApiSecurityScheme
                {
                    Type = SecuritySchemeType.ApiKey,
                    In = ParameterLocation.Cookie,
                    Name = "dw_session",
                    Description = "The session of a user signed in to the portal in a browser (the proxy's cookie). Requests that change something must come from the portal's pages.",
                };
                document.Components.SecuritySchemes[TokenScheme] = new OpenApiSecurityScheme
                {
                    Type = SecuritySchemeType.Http,
                    Scheme = "bearer",
                    BearerFormat = "dwp_<16 hex id>_<64 hex secret>",
                    Description = $"A personal API token, made on the portal's {InternalApiTokens.Page} page: 'Authorization: Bearer dwp_...' on the portal's own address, " +
                        "with no cookie. It acts as its owner, only on the /api/v1 operations of its scopes (" +
                        string.Join("; ", ApiScopes.All.Select(scope => $"{scope}: {ApiScopes.Describe(scope)}")) +
                        "). A token that is unknown, expired or revoked is answered 401; one without the operation's scope 403. Tokens never work on tools, visualisations or pages.",
                };
                return Task.CompletedTask;
            });
            options.AddOperationTransformer((operation, context, _) =>
            {
                var metadata = context.Description.ActionDescriptor.EndpointMetadata;
                // Routes other systems call with credentials of their own (Prometheus's service discovery) say so themselves.
                if (metadata.OfType<NotForBrowsersAttribute>().Any()) return Task.CompletedTask;
                var document = context.Document!;
                var scope = metadata.OfType<ApiScopeAttribute>().LastOrDefault()?.Scope;
                var session = new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(SessionScheme, document)] = [] };
                if (scope is null)
                {
                    operation.Security = [session];
                    operation.Description = Sentence(operation.Description, "Not with a personal API token: only from a signed-in browser.");
                    return Task.CompletedTask;
                }

                operation.Security = [session, new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(TokenScheme, document)] = [scope] }];
                operation.Description = Sentence(operation.Description, $"With a personal API token: needs the '{scope}' scope.");
                operation.Extensions ??= new Dictionary<string, IOpenApiExtension>();
                operation.Extensions["x-dataworkspace-scope"] = new JsonNodeExtension(JsonValue.Create(scope));
                return Task.CompletedTask;
            });
        });
        return services;
    }

    private static string Sentence(string? description, string sentence) => string.IsNullOrEmpty(description) ? sentence : description + "\n\n" + sentence;
}
