using DataWorkspace.Contracts;
using DataWorkspace.Web.Portal;
using DataWorkspace.Web.Security;
using Microsoft.AspNetCore.Diagnostics;

namespace DataWorkspace.Web.ApiTokens;

/// <summary>Endpoint metadata: a personal API token may call this endpoint when it has <see cref="Scope"/> (one of <see cref="ApiScopes"/>).</summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method)]
public sealed class ApiScopeAttribute(string scope) : Attribute
{
    public string Scope { get; } = scope;
}

public static class ApiTokenScopes
{
    /// <summary>A personal API token with <paramref name="scope"/> may call the route (or every route of a group).</summary>
    public static TBuilder RequireScope<TBuilder>(this TBuilder builder, string scope) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new ApiScopeAttribute(scope));

    /// <summary>
    /// After authorization: a request made with a personal API token reaches only endpoints that name a scope it has.
    /// Pages and token management name none, so no token reaches them even if the proxy let one through.
    /// </summary>
    public static IApplicationBuilder UseApiTokenScopes(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        if (!context.User.HasClaim(claim => claim.Type == ApiTokenGrant.Claim) || context.Features.Get<IStatusCodeReExecuteFeature>() is not null
            || context.GetEndpoint() is not { } endpoint)
        {
            await next(context);
            return;
        }

        var page = context.RequestServices.GetRequiredService<PortalLinks>().Portal(InternalApiTokens.Page);
        if (endpoint.Metadata.GetMetadata<ApiScopeAttribute>() is not { } needed)
        {
            await Refusal.WriteAsync(context, StatusCodes.Status403Forbidden, "Not with an API token",
                $"A personal API token can call the /api/v1 endpoints of its scopes only, not {context.Request.Path} (pages and token management need you signed in in a browser: {page}).");
            return;
        }

        if (!context.User.HasClaim(ApiTokenGrant.ScopeClaim, needed.Scope))
        {
            await Refusal.WriteAsync(context, StatusCodes.Status403Forbidden, $"The token lacks the '{needed.Scope}' scope",
                $"{context.Request.Method} {context.Request.Path} needs a token with the '{needed.Scope}' scope ({ApiScopes.Describe(needed.Scope)}); this token has " +
                $"{string.Join(", ", context.User.FindAll(ApiTokenGrant.ScopeClaim).Select(claim => $"'{claim.Value}'"))}. Make a token with that scope at {page}.");
            return;
        }

        await next(context);
    });
}
