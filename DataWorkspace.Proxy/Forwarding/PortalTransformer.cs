using DataWorkspace.Contracts;
using DataWorkspace.Proxy.SignIn;
using Yarp.ReverseProxy.Forwarder;

namespace DataWorkspace.Proxy.Forwarding;

/// <summary>
/// Shapes a request for the web app: every client-sent identity header is dropped, the proxy's own cookies are
/// removed, and the user's identity is added as a signed token the web app verifies. With no
/// <paramref name="signedIdentity"/> (the machine API, which clients sign themselves) no identity is added at all.
/// </summary>
public sealed class PortalTransformer(string? signedIdentity, string clientIp) : HttpTransformer
{
    public override async ValueTask TransformRequestAsync(HttpContext httpContext, HttpRequestMessage proxyRequest, string destinationPrefix, CancellationToken cancellationToken)
    {
        await base.TransformRequestAsync(httpContext, proxyRequest, destinationPrefix, cancellationToken);

        foreach (var header in IdentityHeaders.All) proxyRequest.Headers.Remove(header);
        if (signedIdentity is not null) proxyRequest.Headers.TryAddWithoutValidation(IdentityHeaders.SignedIdentity, signedIdentity);

        ForwardedHeaders.Replace(proxyRequest, httpContext, clientIp);
        ForwardedHeaders.RemoveUnderscoreLookalikes(proxyRequest, httpContext);
        PlatformCookies.RemoveFrom(proxyRequest);
    }
}

public static class ForwardedHeaders
{
    /// <summary>The destination sees the client as the proxy resolved it, never the client's own X-Forwarded-* claims.</summary>
    public static void Replace(HttpRequestMessage proxyRequest, HttpContext httpContext, string clientIp)
    {
        proxyRequest.Headers.Remove("X-Forwarded-For");
        proxyRequest.Headers.Remove("X-Forwarded-Proto");
        proxyRequest.Headers.Remove("X-Forwarded-Host");
        proxyRequest.Headers.Remove("Forwarded");
        proxyRequest.Headers.TryAddWithoutValidation("X-Forwarded-For", clientIp);
        proxyRequest.Headers.TryAddWithoutValidation("X-Forwarded-Proto", httpContext.Request.Scheme);
        proxyRequest.Headers.TryAddWithoutValidation("X-Forwarded-Host", httpContext.Request.Host.Value);
    }

    /// <summary>
    /// Client headers spelt with underscores where the proxy's have hyphens (<c>sso_profile_email</c>): WSGI and CGI
    /// servers read both spellings as the same variable, so a Python app could take the client's for the proxy's.
    /// Removed with the rest of the client's identity and forwarding claims.
    /// </summary>
    public static void RemoveUnderscoreLookalikes(HttpRequestMessage proxyRequest, HttpContext httpContext)
    {
        foreach (var name in httpContext.Request.Headers.Keys)
        {
            if (!name.Contains('_')) continue;
            var hyphenated = name.Replace('_', '-');
            if (IdentityHeaders.All.Contains(hyphenated, StringComparer.OrdinalIgnoreCase) || hyphenated.StartsWith("X-Forwarded-", StringComparison.OrdinalIgnoreCase)
                || hyphenated.Equals("Forwarded", StringComparison.OrdinalIgnoreCase))
                proxyRequest.Headers.Remove(name);
        }
    }
}

public static class PlatformCookies
{
    /// <summary>The session cookie (and its chunks) and the sign-in flow's cookies never leave the proxy.</summary>
    public static bool IsPlatformCookie(ReadOnlySpan<char> name) =>
        // Ignoring case, as ASP.NET Core reads cookie names: DW_SESSION signs in as well as dw_session does.
        name.StartsWith(SignInExtensions.SessionCookie, StringComparison.OrdinalIgnoreCase)
        || name.StartsWith(".AspNetCore.Correlation.", StringComparison.OrdinalIgnoreCase)
        || name.StartsWith(".AspNetCore.OpenIdConnect.Nonce.", StringComparison.OrdinalIgnoreCase);

    public static void RemoveFrom(HttpRequestMessage proxyRequest)
    {
        if (!proxyRequest.Headers.TryGetValues("Cookie", out var values)) return;

        // Usually the platform's session cookie is all there is: then nothing is built and the header just goes.
        System.Text.StringBuilder? kept = null;
        foreach (var value in values)
        {
            var rest = value.AsSpan();
            while (!rest.IsEmpty)
            {
                var end = rest.IndexOf(';');
                var pair = (end < 0 ? rest : rest[..end]).Trim();
                rest = end < 0 ? default : rest[(end + 1)..];
                if (pair.IsEmpty) continue;
                var equals = pair.IndexOf('=');
                if (IsPlatformCookie((equals < 0 ? pair : pair[..equals]).Trim())) continue;
                kept ??= new System.Text.StringBuilder(value.Length);
                if (kept.Length > 0) kept.Append("; ");
                kept.Append(pair);
            }
        }

        proxyRequest.Headers.Remove("Cookie");
        if (kept is not null) proxyRequest.Headers.TryAddWithoutValidation("Cookie", kept.ToString());
    }
}
