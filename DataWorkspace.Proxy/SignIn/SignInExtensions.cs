using System.Security.Claims;
using DataWorkspace.Accounts;
using DataWorkspace.Contracts;
using DataWorkspace.Proxy.ClientAddress;
using DataWorkspace.Security;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;

namespace DataWorkspace.Proxy.SignIn;

/// <summary>Sign-in for the whole platform: OpenID Connect code flow with PKCE, then a session cookie on the root domain.</summary>
public static class SignInExtensions
{
    private static int warnedNoRefreshToken;

    public const string SessionCookie = "dw_session";
    public const string CallbackPath = "/auth/callback";
    public const string SignedOutCallbackPath = "/auth/signed-out";
    public const string SignOutPath = "/auth/sign-out";

    /// <summary>Starts a sign-in and returns to <c>returnUrl</c> (the portal or one of its tool hosts) afterwards.</summary>
    public const string SignInPath = "/auth/sign-in";

    public static IServiceCollection AddPlatformSignIn(this IServiceCollection services)
    {
        services.AddAuthentication(options =>
            {
                options.DefaultScheme = CookieAuthenticationDefaults.AuthenticationScheme;
                options.DefaultChallengeScheme = OpenIdConnectDefaults.AuthenticationScheme;
            })
            .AddCookie()
            .AddOpenIdConnect();

        services.AddOptions<CookieAuthenticationOptions>(CookieAuthenticationDefaults.AuthenticationScheme)
            .Configure<IOptions<ProxyOptions>>((options, proxy) =>
            {
                options.Cookie.Name = SessionCookie;
                options.Cookie.Domain = proxy.Value.RootDomain;
                options.Cookie.HttpOnly = true;
                options.Cookie.SameSite = SameSiteMode.Lax;
                options.Cookie.SecurePolicy = proxy.Value.IsSecure ? CookieSecurePolicy.Always : CookieSecurePolicy.SameAsRequest;
                options.Cookie.IsEssential = true;
                options.ExpireTimeSpan = proxy.Value.SessionLifetime;
                options.SlidingExpiration = false;
                // A session is bound to the IP group it signed in from: from another group, sign in again.
                options.Events.OnValidatePrincipal = context =>
                {
                    var policy = context.HttpContext.RequestServices.GetRequiredService<IpPolicy>();
                    var address = ClientIpResolver.For(context.HttpContext, proxy.Value.TrustedHops).Address;
                    var signedInFrom = context.Principal?.FindFirstValue(IpPolicy.GroupClaim);
                    if (address is not null && signedInFrom == policy.GroupOf(address)) return Task.CompletedTask;
                    context.HttpContext.RequestServices.GetRequiredService<SecurityRefusals>().Record(context.HttpContext, RefusalReason.IpGroupChanged,
                        $"the session of {context.Principal?.FindFirstValue("email")} signed in from IP group '{signedInFrom}', now in '{(address is null ? "(unknown)" : policy.GroupOf(address))}': signed out");
                    context.RejectPrincipal();
                    return context.HttpContext.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
                };
            });

        // The session lives server-side; the cookie carries only its key (see SessionStore). It is checked with the
        // identity provider now and then (SessionCheck), and ended on every replica at once (account notices). The web
        // app, which owns users and the audit log, records sign-ins and says who is deactivated (AccountsClient).
        services.AddSingleton<AccountsClient>();
        services.AddSingleton<DeactivatedUsers>();
        services.AddSingleton<SessionStore>();
        services.AddSingleton<IAccountNoticeHandler>(provider => provider.GetRequiredService<SessionStore>());
        services.AddSingleton<DeactivationCatchUp>();
        services.AddSingleton<IAccountNoticeHandler>(provider => provider.GetRequiredService<DeactivationCatchUp>());
        services.AddHostedService(provider => provider.GetRequiredService<DeactivationCatchUp>());
        services.AddAccountNotices();
        // Scripts sign in with personal API tokens instead, which the web app checks (ApiTokenSignIn).
        services.AddSingleton<ApiTokenSignIn>();
        services.AddSingleton<IdentityProviderCheck>();
        services.AddHostedService<SessionCheck>();
        services.AddOptions<CookieAuthenticationOptions>(CookieAuthenticationDefaults.AuthenticationScheme)
            .Configure<SessionStore>((options, store) => options.SessionStore = store);

        // After the cookie handler's own post-configuration has made the ticket format from the data protection keys.
        services.AddOptions<CookieAuthenticationOptions>(CookieAuthenticationDefaults.AuthenticationScheme)
            .PostConfigure<TimeProvider>((options, time) => options.TicketDataFormat = new CachedTicketFormat(options.TicketDataFormat, time));

        services.AddOptions<OpenIdConnectOptions>(OpenIdConnectDefaults.AuthenticationScheme)
            .Configure<IOptions<OidcOptions>, IOptions<ProxyOptions>>((options, oidc, proxy) =>
            {
                options.Authority = oidc.Value.Authority;
                options.ClientId = oidc.Value.ClientId;
                options.ClientSecret = oidc.Value.ClientSecret;
                options.RequireHttpsMetadata = oidc.Value.RequireHttpsMetadata;
                options.ResponseType = OpenIdConnectResponseType.Code;
                // Query, not form_post: the callback is then a top-level GET, which carries SameSite=Lax cookies.
                options.ResponseMode = OpenIdConnectResponseMode.Query;
                options.UsePkce = true;
                options.Scope.Clear();
                foreach (var scope in oidc.Value.Scopes) options.Scope.Add(scope);
                options.CallbackPath = CallbackPath;
                options.SignedOutCallbackPath = SignedOutCallbackPath;
                options.MapInboundClaims = false;
                options.GetClaimsFromUserInfoEndpoint = false;
                options.SaveTokens = true;
                options.TokenValidationParameters.NameClaimType = "name";
                options.TokenValidationParameters.RoleClaimType = "role";
                options.CorrelationCookie.SameSite = SameSiteMode.Lax;
                options.CorrelationCookie.SecurePolicy = proxy.Value.IsSecure ? CookieSecurePolicy.Always : CookieSecurePolicy.SameAsRequest;
                options.NonceCookie.SameSite = SameSiteMode.Lax;
                options.NonceCookie.SecurePolicy = options.CorrelationCookie.SecurePolicy;
                options.Events.OnTokenValidated = async context =>
                {
                    if (context.Principal?.ToPlatformUser() is { } user && !await AdmitAsync(context, user, proxy.Value)) return;

                    // Without a refresh token a session can be checked only while its access token lasts (often an
                    // hour), and is ended at its first check after that: say so once, where operators look.
                    if (string.IsNullOrEmpty(context.TokenEndpointResponse?.RefreshToken) && Interlocked.Exchange(ref warnedNoRefreshToken, 1) == 0)
                        context.HttpContext.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(SignInExtensions)).LogWarning(
                            "The identity provider gave no refresh token at sign-in: sessions cannot be checked with it after their access token expires, " +
                            "so they end at their next check (Proxy:SessionCheckInterval) and users sign in again. Let the client ask for offline_access (Oidc:Scopes).");

                    // The tokens are kept with the session, server-side: the id_token for the end-session hint, the
                    // refresh token (or the access token) for the checks with the identity provider (SessionCheck).
                    var address = ClientIpResolver.For(context.HttpContext, proxy.Value.TrustedHops).Address;
                    if (address is not null && context.Principal?.Identity is ClaimsIdentity identity)
                        identity.AddClaim(new Claim(IpPolicy.GroupClaim, context.HttpContext.RequestServices.GetRequiredService<IpPolicy>().GroupOf(address)));
                    var properties = context.Properties!;
                    // The session lasts its full lifetime, across browser restarts, like the original's.
                    properties.IsPersistent = true;
                };
                options.Events.OnRemoteFailure = async context =>
                {
                    context.HandleResponse();
                    context.Response.StatusCode = StatusCodes.Status400BadRequest;
                    await ProxyPages.WriteAsync(context.Response, "Sign-in did not complete",
                        $"The identity provider's answer could not be used ({context.Failure?.Message}). This happens when a sign-in page is reopened from history or took too long.",
                        ("Sign in again", "/"));
                };
            });

        return services;
    }

    /// <summary>
    /// Reports a sign-in the identity provider accepted to the web app, which records it in the audit log and refuses a
    /// user its administrators deactivated (the provider may still accept them). False when the sign-in stops here,
    /// with a page saying why: refused, or the web app not answering (a sign-in that cannot be audited does not complete).
    /// </summary>
    internal static async Task<bool> AdmitAsync(TokenValidatedContext context, PlatformUser user, ProxyOptions proxy)
    {
        var http = context.HttpContext;
        var deactivated = http.RequestServices.GetRequiredService<DeactivatedUsers>();
        var mark = deactivated.Mark();
        SignInDecision decision;
        try
        {
            var ip = ClientIpResolver.For(http, proxy.TrustedHops).Address?.ToString();
            decision = await http.RequestServices.GetRequiredService<AccountsClient>().SignInAsync(new SignInReport(user.Id, user.Email, ip), http.RequestAborted);
        }
        catch (PortalUnavailableException unavailable)
        {
            http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(SignInExtensions)).LogWarning(
                "The sign-in of {User} did not complete: it could not be recorded ({Reason})", user.Email, unavailable.Message);
            context.HandleResponse();
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            context.Response.Headers.RetryAfter = "60";
            await ProxyPages.WriteAsync(context.Response, "The portal is not answering",
                $"You signed in as {user.Email}, but the Data Workspace portal is not answering, so the sign-in cannot be completed. Try again in a minute; if it persists, tell the platform team.",
                ("Try again", context.Properties?.RedirectUri is { Length: > 0 } back ? back : "/"));
            return false;
        }

        deactivated.Answered([user.Id], decision.Deactivated ? new HashSet<string>([user.Id], StringComparer.Ordinal) : new HashSet<string>(StringComparer.Ordinal), mark);
        if (!decision.Deactivated) return true;

        http.RequestServices.GetRequiredService<SecurityRefusals>().Record(http, RefusalReason.Deactivated, $"sign-in of {user.Email}, whose account is deactivated");
        context.HandleResponse();
        context.Response.StatusCode = StatusCodes.Status403Forbidden;
        await ProxyPages.WriteAsync(context.Response, "Your account has been deactivated",
            $"You signed in as {user.Email}, but this Data Workspace account has been deactivated, so it cannot use the portal, tools or data. " +
            "If you think this is a mistake, ask the Data Workspace administrators to reactivate it.");
        return false;
    }

    public static PlatformUser? ToPlatformUser(this ClaimsPrincipal principal)
    {
        var id = principal.FindFirstValue("sub");
        if (string.IsNullOrEmpty(id)) return null;
        var email = principal.FindFirstValue("email") ?? "";
        var name = principal.FindFirstValue("name");
        var given = principal.FindFirstValue("given_name") ?? "";
        var family = principal.FindFirstValue("family_name") ?? "";
        if (string.IsNullOrWhiteSpace(name)) name = $"{given} {family}".Trim();
        if (string.IsNullOrWhiteSpace(name)) name = email;
        var roles = principal.FindAll("role").Select(claim => claim.Value).ToArray();
        return new PlatformUser(id, email, name, given, family, roles);
    }
}

public sealed record PlatformUser(string Id, string Email, string Name, string FirstName, string LastName, IReadOnlyList<string> Roles);
