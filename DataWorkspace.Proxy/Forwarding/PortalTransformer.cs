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
}

public static class PlatformCookies
{
    /// <summary>The session cookie (and its chunks) and the sign-in flow's cookies never leave the proxy.</summary>
    public static bool IsPlatformCookie(ReadOnlySpan<char> name) =>
        name.StartsWith(SignInExtensions.SessionCookie, StringComparison.Ordinal)
        || name.StartsWith(".AspNetCore.Correlation.", StringComparison.Ordinal)
        || name.StartsWith(".AspNetCore.OpenIdConnect.Nonce.", StringComparison.Ordinal);

    public static void RemoveFrom(HttpRequestMessage proxyRequest)
    {
        if (!proxyRequest.Headers.TryGetValues("Cookie", out var values)) return;

        var kept = new List<string>();
        foreach (var value in values)
        {
            foreach (var pair in value.Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                var equals = pair.IndexOf('=');
                var name = equals < 0 ? pair.AsSpan() : pair.AsSpan(0, equals);
                if (!IsPlatformCookie(name.Trim())) kept.Add(pair);
            }
        }

        proxyRequest.Headers.Remove("Cookie");
        if (kept.Count > 0) proxyRequest.Headers.TryAddWithoutValidation("Cookie", string.Join("; ", kept));
    }
}
