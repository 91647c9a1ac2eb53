using DataWorkspace.Contracts;
using DataWorkspace.Security;

namespace DataWorkspace.Web.Security;

public static class ProxyServiceOnlyExtensions
{
    /// <summary>
    /// Every route of the group is for the proxy alone: called with its service identity (which a user's identity is
    /// not), never from a browser. The public entry never forwards <c>/internal</c> either.
    /// </summary>
    /// <param name="api">The API's name in words, for the refusal's record.</param>
    public static RouteGroupBuilder ForTheProxyOnly(this RouteGroupBuilder group, string api)
    {
        group.NotForBrowsers().AddEndpointFilter(async (context, next) =>
        {
            var tokens = context.HttpContext.RequestServices.GetRequiredService<IdentityToken>();
            var verified = tokens.VerifyService(context.HttpContext.Request.Headers[IdentityHeaders.ServiceIdentity].ToString());
            if (verified.Identity is not null) return await next(context);
            context.HttpContext.RequestServices.GetRequiredService<SecurityRefusals>().Record(context.HttpContext, RefusalReason.ServiceCredentials, $"{api}: {verified.Failure}");
            return TypedResults.Problem(title: "Not the proxy", detail: $"This API is for the Data Workspace proxy only: {verified.Failure}.", statusCode: StatusCodes.Status403Forbidden);
        });
        return group;
    }
}
