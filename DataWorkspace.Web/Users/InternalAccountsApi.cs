using DataWorkspace.Contracts;
using DataWorkspace.Web.Security;
using Microsoft.AspNetCore.Http.HttpResults;

namespace DataWorkspace.Web.Users;

/// <summary>
/// The proxy's API for sign-ins and sessions (see <see cref="InternalAccounts"/>): the proxy owns sessions, the web
/// app owns users and the audit log, so the proxy asks here instead of reading or writing the web app's tables.
/// </summary>
public static class InternalAccountsApi
{
    public static void MapInternalAccountsApi(this WebApplication app)
    {
        // No user's request: the proxy's service identity (checked by the group's filter) is the only credential.
        var api = app.MapGroup(InternalAccounts.Prefix).ForTheProxyOnly("internal accounts API").AllowAnonymous();

        api.MapPost(InternalAccounts.SignIns, async Task<Results<Ok<SignInDecision>, ProblemHttpResult>> (
            SignInReport report, UserAccounts accounts, CancellationToken cancellationToken) =>
        {
            if (string.IsNullOrEmpty(report.UserId) || string.IsNullOrEmpty(report.Email))
                return TypedResults.Problem(title: "Bad sign-in report", detail: "Give the user's id and email.", statusCode: StatusCodes.Status400BadRequest);
            return TypedResults.Ok(await accounts.SignInAsync(report, cancellationToken));
        });

        api.MapPost(InternalAccounts.Deactivated, async Task<Results<Ok<DeactivatedUsersAnswer>, ProblemHttpResult>> (
            DeactivatedUsersQuery query, UserAccounts accounts, CancellationToken cancellationToken) =>
        {
            if (query.UserIds is not { Count: <= InternalAccounts.MaxUsersAsked } userIds)
                return TypedResults.Problem(title: "Bad question", detail: $"Ask about between 0 and {InternalAccounts.MaxUsersAsked:N0} users.", statusCode: StatusCodes.Status400BadRequest);
            return TypedResults.Ok(new DeactivatedUsersAnswer(await accounts.DeactivatedAmongAsync(userIds, cancellationToken)));
        });
    }
}
