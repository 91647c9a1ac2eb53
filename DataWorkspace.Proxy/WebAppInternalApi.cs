using DataWorkspace.Contracts;

namespace DataWorkspace.Proxy;

/// <summary>
/// How the proxy calls the web app's internal APIs: straight to it (no outbound proxy, cookies or redirects), each
/// request carrying the proxy's own service identity, which those APIs require.
/// </summary>
public static class WebAppInternalApi
{
    public static HttpClient Client(ProxyOptions options, string prefix, TimeSpan connectTimeout, TimeSpan timeout) =>
        new(new SocketsHttpHandler { UseProxy = false, UseCookies = false, AllowAutoRedirect = false, ConnectTimeout = connectTimeout })
        {
            BaseAddress = new Uri(options.WebUrl.TrimEnd('/') + "/" + prefix.Trim('/') + "/"),
            Timeout = timeout,
        };

    public static void AsTheProxy(this HttpRequestMessage request, IdentityToken tokens) =>
        request.Headers.TryAddWithoutValidation(IdentityHeaders.ServiceIdentity, tokens.IssueService());
}
