using System.Security.Claims;
using DataWorkspace.DevIdentity;
using Microsoft.AspNetCore;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using OpenIddict.Abstractions;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Abstractions.OpenIddictConstants;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();

builder.Services.AddOptions<DevIdentityOptions>()
    .Bind(builder.Configuration.GetSection(DevIdentityOptions.Section))
    .ValidateDataAnnotations()
    .ValidateOnStart();

// A development provider: its clients live in memory, and its tokens are self-contained (no token or authorization
// storage), so those it gave stay valid across restarts as long as its keys do (see ProviderKeys).
builder.Services.AddDbContext<DbContext>(options =>
{
    options.UseInMemoryDatabase("dev-identity");
    options.UseOpenIddict();
});

builder.Services.AddAuthentication(CookieAuthenticationDefaults.AuthenticationScheme)
    .AddCookie(options =>
    {
        options.Cookie.Name = "dw_dev_identity";
        options.Cookie.HttpOnly = true;
        options.Cookie.SameSite = SameSiteMode.Lax;
        options.LoginPath = "/account/sign-in";
        options.ExpireTimeSpan = TimeSpan.FromHours(10);
    });
builder.Services.AddAuthorization();

builder.Services.AddOpenIddict()
    .AddCore(options => options.UseEntityFrameworkCore().UseDbContext<DbContext>())
    .AddServer(options =>
    {
        options.SetAuthorizationEndpointUris("connect/authorize")
            .SetTokenEndpointUris("connect/token")
            .SetUserInfoEndpointUris("connect/userinfo")
            .SetEndSessionEndpointUris("connect/logout");
        options.AllowAuthorizationCodeFlow().RequireProofKeyForCodeExchange();
        // Refresh tokens let a relying party ask, later, whether the user is still accepted (the proxy's session check).
        options.AllowRefreshTokenFlow();
        options.RegisterScopes(Scopes.Email, Scopes.Profile, Scopes.Roles, Scopes.OfflineAccess);
        options.AddProviderKeys(builder.Configuration[$"{DevIdentityOptions.Section}:StateDirectory"]);
        options.DisableTokenStorage().DisableAuthorizationStorage();
        options.DisableAccessTokenEncryption();
        options.UseAspNetCore()
            .EnableAuthorizationEndpointPassthrough()
            .EnableTokenEndpointPassthrough()
            .EnableUserInfoEndpointPassthrough()
            .EnableEndSessionEndpointPassthrough()
            .DisableTransportSecurityRequirement();
    });

builder.Services.AddSingleton<DemoUsers>();
builder.Services.AddHostedService<ClientRegistrar>();
builder.Services.AddRazorPages();

var app = builder.Build();

app.UseStaticFiles();
app.UseAuthentication();
app.UseAuthorization();

app.MapDefaultEndpoints();
app.MapRazorPages();

app.MapMethods("/connect/authorize", [HttpMethods.Get, HttpMethods.Post], async (HttpContext context, DemoUsers users) =>
{
    var request = context.GetOpenIddictServerRequest()
        ?? throw new InvalidOperationException("The OpenID Connect request could not be read.");

    // A user disabled or removed since they signed in here is as good as signed out: the sign-in page says why.
    var session = await context.AuthenticateAsync(CookieAuthenticationDefaults.AuthenticationScheme);
    var user = session.Succeeded ? users.ActiveById(session.Principal.FindFirstValue(Claims.Subject)) : null;
    if (user is null || request.HasPromptValue(PromptValues.Login))
    {
        if (request.HasPromptValue(PromptValues.None))
        {
            return Results.Forbid(
                new AuthenticationProperties(new Dictionary<string, string?>
                {
                    [OpenIddictServerAspNetCoreConstants.Properties.Error] = Errors.LoginRequired,
                    [OpenIddictServerAspNetCoreConstants.Properties.ErrorDescription] = "The user is not signed in.",
                }),
                [OpenIddictServerAspNetCoreDefaults.AuthenticationScheme]);
        }

        // Drop prompt=login from the return address, or the sign-in page would loop back here forever.
        var parameters = context.Request.HasFormContentType ? context.Request.Form.ToList() : context.Request.Query.ToList();
        parameters.RemoveAll(parameter => parameter.Key == Parameters.Prompt);
        var returnUrl = context.Request.PathBase + context.Request.Path + QueryString.Create(parameters);
        return Results.Challenge(new AuthenticationProperties { RedirectUri = returnUrl }, [CookieAuthenticationDefaults.AuthenticationScheme]);
    }

    return Results.SignIn(IdentityOf(user, request.GetScopes()), properties: null, OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
}).AllowAnonymous();

// Codes and refresh tokens are redeemed here: only for a user the provider still accepts, with their claims as they are now.
app.MapPost("/connect/token", async (HttpContext context, DemoUsers users) =>
{
    var request = context.GetOpenIddictServerRequest()
        ?? throw new InvalidOperationException("The OpenID Connect request could not be read.");
    if (!request.IsAuthorizationCodeGrantType() && !request.IsRefreshTokenGrantType())
        throw new InvalidOperationException($"The grant type '{request.GrantType}' is not supported.");

    var granted = await context.AuthenticateAsync(OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
    if (users.ActiveById(granted.Principal?.GetClaim(Claims.Subject)) is not { } user)
    {
        return Results.Forbid(
            new AuthenticationProperties(new Dictionary<string, string?>
            {
                [OpenIddictServerAspNetCoreConstants.Properties.Error] = Errors.InvalidGrant,
                [OpenIddictServerAspNetCoreConstants.Properties.ErrorDescription] = "The user is no longer allowed to sign in.",
            }),
            [OpenIddictServerAspNetCoreDefaults.AuthenticationScheme]);
    }

    return Results.SignIn(IdentityOf(user, granted.Principal!.GetScopes()), properties: null, OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
}).AllowAnonymous();

app.MapMethods("/connect/userinfo", [HttpMethods.Get, HttpMethods.Post], async (HttpContext context, DemoUsers users) =>
{
    var presented = await context.AuthenticateAsync(OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
    if (users.ActiveById(presented.Principal?.GetClaim(Claims.Subject)) is not { } user)
    {
        return Results.Challenge(
            new AuthenticationProperties(new Dictionary<string, string?>
            {
                [OpenIddictServerAspNetCoreConstants.Properties.Error] = Errors.InvalidToken,
                [OpenIddictServerAspNetCoreConstants.Properties.ErrorDescription] = "The user is no longer known or allowed to sign in.",
            }),
            [OpenIddictServerAspNetCoreDefaults.AuthenticationScheme]);
    }

    return Results.Ok(new Dictionary<string, object>
    {
        [Claims.Subject] = user.Id,
        [Claims.Email] = user.Email,
        [Claims.EmailVerified] = true,
        [Claims.Name] = user.Name,
        [Claims.GivenName] = user.FirstName,
        [Claims.FamilyName] = user.LastName,
        [Claims.Role] = user.Roles,
    });
}).AllowAnonymous();

app.MapMethods("/connect/logout", [HttpMethods.Get, HttpMethods.Post], async (HttpContext context) =>
{
    await context.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
    return Results.SignOut(new AuthenticationProperties { RedirectUri = "/" }, [OpenIddictServerAspNetCoreDefaults.AuthenticationScheme]);
}).AllowAnonymous();

app.Run();

static ClaimsPrincipal IdentityOf(DemoUser user, IEnumerable<string> scopes)
{
    var identity = new ClaimsIdentity(OpenIddictServerAspNetCoreDefaults.AuthenticationScheme, Claims.Name, Claims.Role);
    identity.SetClaim(Claims.Subject, user.Id)
        .SetClaim(Claims.Email, user.Email)
        .SetClaim(Claims.EmailVerified, true)
        .SetClaim(Claims.Name, user.Name)
        .SetClaim(Claims.GivenName, user.FirstName)
        .SetClaim(Claims.FamilyName, user.LastName)
        .SetClaims(Claims.Role, [.. user.Roles]);
    identity.SetScopes(scopes);
    identity.SetDestinations(_ => [Destinations.AccessToken, Destinations.IdentityToken]);
    return new ClaimsPrincipal(identity);
}
