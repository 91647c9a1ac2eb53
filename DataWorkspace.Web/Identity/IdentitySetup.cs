using DataWorkspace.Contracts;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;

namespace DataWorkspace.Web.Identity;

public static class IdentitySetup
{
    /// <summary>Who is calling: the identity the proxy signed (every endpoint needs one unless it says otherwise), and who is an admin.</summary>
    public static WebApplicationBuilder AddProxyIdentity(this WebApplicationBuilder builder)
    {
        builder.AddIdentityTokens();
        builder.Services.AddAuthentication(ProxyIdentityHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ProxyIdentityHandler>(ProxyIdentityHandler.SchemeName, null);
        builder.Services.AddAuthorizationBuilder()
            .SetFallbackPolicy(new AuthorizationPolicyBuilder().RequireAuthenticatedUser().Build())
            .AddPolicy(AdminOptions.Policy, policy => policy.RequireRole(PlatformIdentity.AdminRole));
        builder.Services.Configure<AdminOptions>(builder.Configuration.GetSection(AdminOptions.Section));
        return builder;
    }
}
