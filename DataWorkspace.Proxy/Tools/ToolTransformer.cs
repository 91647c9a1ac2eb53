using DataWorkspace.Contracts;
using DataWorkspace.Proxy.Forwarding;
using DataWorkspace.Proxy.SignIn;
using Yarp.ReverseProxy.Forwarder;

namespace DataWorkspace.Proxy.Tools;

/// <summary>
/// Shapes traffic between a user and their tool: client-sent identity headers are dropped and the proxy's own set
/// (plain, for the app's convenience, including the original Data Workspace's <c>sso-profile-*</c> names); the
/// platform's cookies never reach the tool; a tool cannot set cookies for the root domain or for other hosts.
/// </summary>
public sealed class ToolTransformer(PlatformUser user, string clientIp, string rootDomain) : HttpTransformer
{
    public override async ValueTask TransformRequestAsync(HttpContext httpContext, HttpRequestMessage proxyRequest, string destinationPrefix, CancellationToken cancellationToken)
    {
        await base.TransformRequestAsync(httpContext, proxyRequest, destinationPrefix, cancellationToken);
        // The tool listens on its own address: it is asked for that host, as a browser there would.
        proxyRequest.Headers.Host = null;

        ClientClaims.RemoveFrom(proxyRequest, httpContext);
        proxyRequest.Headers.TryAddWithoutValidation(IdentityHeaders.UserId, user.Id);
        proxyRequest.Headers.TryAddWithoutValidation(IdentityHeaders.UserEmail, user.Email);
        proxyRequest.Headers.TryAddWithoutValidation(IdentityHeaders.UserName, user.Name);
        proxyRequest.Headers.TryAddWithoutValidation(IdentityHeaders.SsoUserId, user.Id);
        proxyRequest.Headers.TryAddWithoutValidation(IdentityHeaders.SsoEmail, user.Email);
        proxyRequest.Headers.TryAddWithoutValidation(IdentityHeaders.SsoFirstName, user.FirstName);
        proxyRequest.Headers.TryAddWithoutValidation(IdentityHeaders.SsoLastName, user.LastName);

        ForwardedHeaders.Add(proxyRequest, httpContext, clientIp);
    }

    public override async ValueTask<bool> TransformResponseAsync(HttpContext httpContext, HttpResponseMessage? proxyResponse, CancellationToken cancellationToken)
    {
        var proceed = await base.TransformResponseAsync(httpContext, proxyResponse, cancellationToken);
        var cookies = httpContext.Response.Headers.SetCookie;
        if (cookies.Count > 0)
        {
            string[] kept = [.. cookies.Where(cookie => cookie is not null && IsForThisHost(cookie, httpContext.Request.Host.Host))!];
            if (kept.Length == cookies.Count) return proceed;
            if (kept.Length == 0) httpContext.Response.Headers.Remove("Set-Cookie");
            else httpContext.Response.Headers.SetCookie = kept;
        }

        return proceed;
    }

    /// <summary>A cookie with no Domain is the tool host's own; one with a Domain must name exactly the tool's host.</summary>
    private bool IsForThisHost(string setCookie, string host)
    {
        foreach (var part in setCookie.Split(';', StringSplitOptions.TrimEntries))
        {
            if (!part.StartsWith("domain=", StringComparison.OrdinalIgnoreCase)) continue;
            var domain = part["domain=".Length..].TrimStart('.');
            return string.Equals(domain, host, StringComparison.OrdinalIgnoreCase) && !string.Equals(domain, rootDomain, StringComparison.OrdinalIgnoreCase);
        }

        // A cookie named like the platform's would shadow the session on this host.
        var name = setCookie.AsSpan(0, Math.Max(0, setCookie.IndexOf('=')));
        return !PlatformCookies.IsPlatformCookie(name);
    }
}
