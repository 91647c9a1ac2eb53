using System.Collections.Frozen;
using DataWorkspace.Contracts;
using DataWorkspace.Proxy.SignIn;
using Yarp.ReverseProxy.Forwarder;

namespace DataWorkspace.Proxy.Forwarding;

/// <summary>
/// Shapes a request for the web app: every client-sent identity header is dropped, the proxy's own cookies are
/// removed, and the user's identity is added as a signed token the web app verifies. With no
/// <paramref name="signedIdentity"/> (the machine API, which clients sign themselves) no identity is added at all.
/// With <paramref name="dropAuthorization"/> (a personal API token, already checked) the token goes no further.
/// </summary>
public sealed class PortalTransformer(string? signedIdentity, string clientIp, bool dropAuthorization = false) : HttpTransformer
{
    public override async ValueTask TransformRequestAsync(HttpContext httpContext, HttpRequestMessage proxyRequest, string destinationPrefix, CancellationToken cancellationToken)
    {
        await base.TransformRequestAsync(httpContext, proxyRequest, destinationPrefix, cancellationToken);

        ClientClaims.RemoveFrom(proxyRequest, httpContext);
        if (dropAuthorization) proxyRequest.Headers.Authorization = null;
        if (signedIdentity is not null) proxyRequest.Headers.TryAddWithoutValidation(IdentityHeaders.SignedIdentity, signedIdentity);
        ForwardedHeaders.Add(proxyRequest, httpContext, clientIp);
    }
}

/// <summary>
/// What a client may not pass on through the proxy, whatever it forwards to: identity and forwarding headers (the proxy
/// sets its own), the headers other proxies and tools use to say who or where a user is (a tool such as RStudio Server
/// or Grafana may be configured to trust them), each also spelt with underscores, and the platform's cookies.
/// </summary>
public static class ClientClaims
{
    private static readonly string[] Forwarding = ["X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "Forwarded"];

    // Families rather than single names, so a tool trusting another member of one (X-Forwarded-Preferred-Username,
    // Remote-Groups) cannot be fed it either: oauth2-proxy, Authelia, Kubernetes, Grafana, Kong, AWS ALB, Azure, Google
    // IAP, Cloudflare Access, and the client-address headers of nginx and CDNs. Grouped by first letter: this runs for
    // every header of every forwarded request, and most headers (Accept, Host, User-Agent...) then need no comparison.
    private static readonly FrozenDictionary<char, string[]> ReservedPrefixes = new[]
    {
        "X-DataWorkspace-", "sso-profile-", "X-Forwarded-", "X-Auth-Request-", "Remote-", "X-Remote-", "X-Webauth-",
        "X-Authenticated-", "X-Amzn-Oidc-", "X-Ms-Client-Principal", "X-Goog-Authenticated-", "Cf-Access-",
    }.GroupBy(prefix => char.ToLowerInvariant(prefix[0])).ToFrozenDictionary(group => group.Key, group => group.ToArray());

    private static readonly FrozenSet<string> ReservedNames = new[]
    {
        "Forwarded", "X-User", "X-Email", "X-Auth-User", "X-Rstudio-Username", "X-Real-Ip", "X-Client-Ip",
        "True-Client-Ip", "Cf-Connecting-Ip", "X-Cluster-Client-Ip",
    }.Concat(IdentityHeaders.All).ToFrozenSet(StringComparer.OrdinalIgnoreCase);

    public static void RemoveFrom(HttpRequestMessage proxyRequest, HttpContext httpContext)
    {
        foreach (var header in IdentityHeaders.All) proxyRequest.Headers.Remove(header);
        foreach (var header in Forwarding) proxyRequest.Headers.Remove(header);
        foreach (var name in httpContext.Request.Headers.Keys)
            if (IsReserved(name)) proxyRequest.Headers.Remove(name);
        PlatformCookies.RemoveFrom(proxyRequest);
    }

    /// <summary>
    /// Whether only the proxy may set a header of this name. Underscores count as hyphens: WSGI and CGI servers read
    /// <c>sso_profile_email</c> and <c>sso-profile-email</c> as the same variable, so a Python app could take the
    /// client's for the proxy's.
    /// </summary>
    public static bool IsReserved(string name)
    {
        var hyphenated = name.Contains('_') ? name.Replace('_', '-') : name;
        if (ReservedNames.Contains(hyphenated)) return true;
        if (hyphenated.Length == 0 || !ReservedPrefixes.TryGetValue(char.ToLowerInvariant(hyphenated[0]), out var prefixes)) return false;
        foreach (var prefix in prefixes)
            if (hyphenated.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)) return true;
        return false;
    }
}

public static class ForwardedHeaders
{
    /// <summary>The destination sees the client as the proxy resolved it (the client's own claims were removed first).</summary>
    public static void Add(HttpRequestMessage proxyRequest, HttpContext httpContext, string clientIp)
    {
        proxyRequest.Headers.TryAddWithoutValidation("X-Forwarded-For", clientIp);
        proxyRequest.Headers.TryAddWithoutValidation("X-Forwarded-Proto", httpContext.Request.Scheme);
        proxyRequest.Headers.TryAddWithoutValidation("X-Forwarded-Host", httpContext.Request.Host.Value);
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
            foreach (var pair in new CookiePairs(value))
            {
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

/// <summary>The <c>name=value</c> pairs of a Cookie header as written, each trimmed, empty ones skipped; nothing allocated.</summary>
public ref struct CookiePairs(ReadOnlySpan<char> header)
{
    private ReadOnlySpan<char> rest = header;

    public ReadOnlySpan<char> Current { get; private set; }

    public readonly CookiePairs GetEnumerator() => this;

    public bool MoveNext()
    {
        while (!rest.IsEmpty)
        {
            var end = rest.IndexOf(';');
            Current = (end < 0 ? rest : rest[..end]).Trim();
            rest = end < 0 ? default : rest[(end + 1)..];
            if (!Current.IsEmpty) return true;
        }

        return false;
    }
}
