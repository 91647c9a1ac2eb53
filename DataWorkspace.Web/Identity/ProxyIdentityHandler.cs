using System.Security.Claims;
using System.Text.Encodings.Web;
using DataWorkspace.Contracts;
using DataWorkspace.Security;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace DataWorkspace.Web.Identity;

/// <summary>
/// Authenticates a request by the identity the proxy signed for it (<see cref="IdentityHeaders.SignedIdentity"/>).
/// The web app never trusts an unsigned identity: anything else is 401.
/// </summary>
public sealed class ProxyIdentityHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory loggerFactory,
    UrlEncoder encoder,
    IdentityToken tokens,
    IOptionsMonitor<AdminOptions> admins,
    DeactivatedUsers deactivated,
    SecurityRefusals refusals) : AuthenticationHandler<AuthenticationSchemeOptions>(options, loggerFactory, encoder)
{
    public const string SchemeName = "ProxyIdentity";
    private const string FailureKey = "DataWorkspace.IdentityFailure";
    private const string DeactivatedKey = "DataWorkspace.IdentityDeactivated";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var result = await VerifyAsync();
        // The proxy ends a deactivated user's sessions at once; an identity it signed just before is refused here too.
        if (result.Principal is { } principal && await deactivated.IsDeactivatedAsync(principal.Id(), Context.RequestAborted))
        {
            Context.Items[DeactivatedKey] = principal.EmailOf();
            refusals.Record(Context, RefusalReason.Deactivated, $"signed identity of {principal.EmailOf()}, whose account is deactivated");
            return await Fail("the account is deactivated");
        }

        return result;
    }

    private Task<AuthenticateResult> VerifyAsync()
    {
        var presented = Request.Headers[IdentityHeaders.SignedIdentity];
        if (presented.Count == 0) return Fail("no identity was presented");
        if (presented.Count > 1) return Fail("more than one identity was presented");

        var verification = tokens.Verify(presented[0]);
        if (verification.Identity is not { } identity) return Fail(verification.Failure!);
        // Visualisations' own database identities are "app:<basename>": no person may be one.
        if (identity.UserId.StartsWith(PlatformClaims.AppUserIdPrefix, StringComparison.Ordinal))
            return Fail($"user ids beginning '{PlatformClaims.AppUserIdPrefix}' are reserved for visualisations");

        var claims = PlatformClaims.From(identity).ToList();
        // A personal API token acts within its scopes only: never as an administrator.
        if (identity.ApiToken is null && !identity.Roles.Contains(PlatformIdentity.AdminRole) && admins.CurrentValue.Emails.Contains(identity.Email, StringComparer.OrdinalIgnoreCase))
            claims.Add(new Claim(PlatformClaims.Role, PlatformIdentity.AdminRole));
        var principal = new ClaimsPrincipal(new ClaimsIdentity(claims, SchemeName, PlatformClaims.Name, PlatformClaims.Role));
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(principal, SchemeName)));
    }

    private Task<AuthenticateResult> Fail(string reason)
    {
        Context.Items[FailureKey] = reason;
        return Task.FromResult(AuthenticateResult.Fail(reason));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        if (Context.Items[DeactivatedKey] is string email)
        {
            // A person's browser gets the portal's page saying so; an API caller problem+json.
            await Security.Refusal.WriteAsync(Context, StatusCodes.Status403Forbidden, "Your account has been deactivated",
                $"The Data Workspace account of {email} has been deactivated, so it cannot use the portal, tools or data. If you need it again, ask the Data Workspace administrators to reactivate it.");
            return;
        }

        var reason = Context.Items[FailureKey] as string ?? "no identity was presented";
        refusals.Record(Context, RefusalReason.ForgedIdentity, reason);
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        await Results.Problem(
            statusCode: StatusCodes.Status401Unauthorized,
            title: "Not signed in",
            detail: $"The portal is reached through the Data Workspace proxy, which signs each request with the user's identity; this request was refused because {reason}. Open the portal's public address and sign in.")
            .ExecuteAsync(Context);
    }
}

/// <summary>The claim types the web app's principal carries, taken from the verified <see cref="PlatformIdentity"/>.</summary>
public static class PlatformClaims
{
    public const string UserId = "sub";
    public const string Email = "email";
    public const string Name = "name";
    public const string Role = "role";
    public const string ClientIp = "client_ip";

    /// <summary>Begins the user ids of visualisations' own database identities (<c>app:&lt;basename&gt;</c>), which no person may have.</summary>
    public const string AppUserIdPrefix = "app:";

    public static IEnumerable<Claim> From(PlatformIdentity identity)
    {
        yield return new Claim(UserId, identity.UserId);
        yield return new Claim(Email, identity.Email);
        yield return new Claim(Name, identity.Name);
        yield return new Claim(ClientIp, identity.ClientIp);
        if (identity.ApiToken is { } token)
        {
            yield return new Claim(ApiTokenGrant.Claim, token.Id);
            foreach (var scope in token.Scopes) yield return new Claim(ApiTokenGrant.ScopeClaim, scope);
            yield break;
        }

        foreach (var role in identity.Roles) yield return new Claim(Role, role);
    }

    public static string Id(this ClaimsPrincipal user) => user.FindFirstValue(UserId) ?? "";
    public static string EmailOf(this ClaimsPrincipal user) => user.FindFirstValue(Email) ?? "";
    public static string DisplayName(this ClaimsPrincipal user) => user.FindFirstValue(Name) is { Length: > 0 } name ? name : user.EmailOf();
    public static bool IsAdmin(this ClaimsPrincipal user) => user.IsInRole(PlatformIdentity.AdminRole);
}
