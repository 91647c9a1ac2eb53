using DataWorkspace.Contracts;
using DataWorkspace.Web.Identity;
using DataWorkspace.Web.Security;
using Microsoft.AspNetCore.Http.HttpResults;

namespace DataWorkspace.Web.ApiTokens;

public sealed record ApiTokenList(IReadOnlyList<ApiTokenView> Tokens);

public sealed record ApiTokenRevoked(string Id, bool Revoked);

/// <summary>
/// The JSON API for managing one's personal API tokens, for a signed-in browser (no token reaches it: it names no
/// scope), and the proxy's internal API that checks a token a script sends.
/// </summary>
public static class ApiTokensApi
{
    public static void MapApiTokensApi(this WebApplication app)
    {
        var api = app.MapGroup(InternalApiTokens.ManagementApi).WithTags("API tokens");

        api.MapGet("/", async Task<Ok<ApiTokenList>> (HttpContext http, ApiTokenService tokens, CancellationToken cancellationToken) =>
            TypedResults.Ok(new ApiTokenList(await tokens.ListAsync(http.User.Id(), cancellationToken))))
            .WithSummary("Your personal API tokens, active first (never their text)");

        api.MapPost("/", async Task<Results<Created<CreatedApiToken>, ProblemHttpResult>> (NewApiToken request, HttpContext http, ApiTokenService tokens, CancellationToken cancellationToken) =>
        {
            try
            {
                var created = await tokens.CreateAsync(http.User, request, cancellationToken);
                http.Response.Headers.CacheControl = "no-store";
                return TypedResults.Created($"{InternalApiTokens.ManagementApi}/{created.Details.Id}", created);
            }
            catch (ApiTokenRefusedException refused)
            {
                return TypedResults.Problem(title: "The token was not made", detail: refused.Message, statusCode: StatusCodes.Status400BadRequest,
                    extensions: new Dictionary<string, object?> { ["field"] = refused.Field });
            }
        }).Accepts<NewApiToken>("application/json").ProducesProblem(StatusCodes.Status400BadRequest)
          .WithSummary("Make a token: its text is in the answer, this once, and kept nowhere");

        api.MapDelete("/{id}", async Task<Results<Ok<ApiTokenRevoked>, ProblemHttpResult>> (string id, HttpContext http, ApiTokenService tokens, CancellationToken cancellationToken) =>
            await tokens.RevokeAsync(http.User, id, http.User.Id(), cancellationToken)
                ? TypedResults.Ok(new ApiTokenRevoked(id, true))
                : TypedResults.Problem(title: "No such token", detail: $"You have no API token with the id '{id}'. List yours at GET {InternalApiTokens.ManagementApi}.", statusCode: StatusCodes.Status404NotFound))
            .ProducesProblem(StatusCodes.Status404NotFound)
            .WithSummary("Revoke a token: scripts using it are refused within seconds");

        // No user's request: the proxy's service identity (checked by the group's filter) is the only credential.
        var internalApi = app.MapGroup(InternalApiTokens.Prefix).ForTheProxyOnly("internal API tokens API").AllowAnonymous();
        internalApi.MapPost(InternalApiTokens.Checks, async Task<Results<Ok<ApiTokenVerdict>, ProblemHttpResult>> (
            ApiTokenCheck check, ApiTokenService tokens, CancellationToken cancellationToken) =>
        {
            if (string.IsNullOrEmpty(check.Id) || check.Hash is not { Length: 64 })
                return TypedResults.Problem(title: "Bad token check", detail: "Give the token's id and the hex SHA-256 of its text.", statusCode: StatusCodes.Status400BadRequest);
            return TypedResults.Ok(await tokens.CheckAsync(check, cancellationToken));
        });
    }
}
