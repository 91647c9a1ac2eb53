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

// A development provider: its clients and codes live in memory and its keys are ephemeral, so nothing persists.
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
            .SetEndSessionEndpointUris("connect/logout");
        options.AllowAuthorizationCodeFlow().RequireProofKeyForCodeExchange();
        options.RegisterScopes(Scopes.Email, Scopes.Profile, Scopes.Roles);
        options.AddEphemeralEncryptionKey().AddEphemeralSigningKey();
        options.DisableAccessTokenEncryption();
        options.UseAspNetCore()
            .EnableAuthorizationEndpointPassthrough()
            .EnableEndSessionEndpointPassthrough()
            .DisableTransportSecurityRequirement();
    });

builder.Services.AddHostedService<ClientRegistrar>();
builder.Services.AddRazorPages();

var app = builder.Build();

app.UseStaticFiles();
app.UseAuthentication();
app.UseAuthorization();

app.MapDefaultEndpoints();
app.MapRazorPages();

app.MapMethods("/connect/authorize", [HttpMethods.Get, HttpMethods.Post], async (HttpContext context, IOptions<DevIdentityOptions> options) =>
{
    var request = context.GetOpenIddictServerRequest()
        ?? throw new InvalidOperationException("The OpenID Connect request could not be read.");

    var session = await context.AuthenticateAsync(CookieAuthenticationDefaults.AuthenticationScheme);
    var user = session.Succeeded ? options.Value.Users.FirstOrDefault(u => u.Id == session.Principal.FindFirstValue(Claims.Subject)) : null;
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

    var identity = new ClaimsIdentity(OpenIddictServerAspNetCoreDefaults.AuthenticationScheme, Claims.Name, Claims.Role);
    identity.SetClaim(Claims.Subject, user.Id)
        .SetClaim(Claims.Email, user.Email)
        .SetClaim(Claims.EmailVerified, true)
        .SetClaim(Claims.Name, user.Name)
        .SetClaim(Claims.GivenName, user.FirstName)
        .SetClaim(Claims.FamilyName, user.LastName)
        .SetClaims(Claims.Role, [.. user.Roles]);
    identity.SetScopes(request.GetScopes());
    identity.SetDestinations(_ => [Destinations.AccessToken, Destinations.IdentityToken]);

    return Results.SignIn(new ClaimsPrincipal(identity), properties: null, OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
}).AllowAnonymous();

app.MapMethods("/connect/logout", [HttpMethods.Get, HttpMethods.Post], async (HttpContext context) =>
{
    await context.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
    return Results.SignOut(new AuthenticationProperties { RedirectUri = "/" }, [OpenIddictServerAspNetCoreDefaults.AuthenticationScheme]);
}).AllowAnonymous();

app.Run();
