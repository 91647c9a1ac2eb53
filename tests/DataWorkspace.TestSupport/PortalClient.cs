using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace DataWorkspace.TestSupport;

/// <summary>
/// An HTTP client that behaves like a browser towards the platform: it keeps cookies, follows redirects, and reaches
/// every <c>*.localhost</c> host on loopback (as Chromium does; .NET's resolver may not).
/// </summary>
public sealed partial class PortalClient : IDisposable
{
    /// <param name="from">
    /// The loopback address to connect from (127.0.0.2, 127.0.0.3...): the proxy sees it as the client's address,
    /// which is how tests stand for users on other networks. Null: the system's choice (127.0.0.1).
    /// </param>
    /// <param name="connect">How to make a connection, in place of <see cref="ConnectToLoopbackAsync(SocketsHttpConnectionContext, CancellationToken)"/> (a bench's load balancer).</param>
    public PortalClient(Uri portalUrl, bool followRedirects = true, IPAddress? from = null,
        Func<SocketsHttpConnectionContext, CancellationToken, ValueTask<Stream>>? connect = null)
    {
        PortalUrl = portalUrl;
        Cookies = new CookieContainer();
        Http = new HttpClient(new SocketsHttpHandler
        {
            CookieContainer = Cookies,
            AllowAutoRedirect = followRedirects,
            UseProxy = false,
            ConnectCallback = connect ?? (from is null ? ConnectToLoopbackAsync : (context, cancellationToken) => ConnectToLoopbackAsync(context, cancellationToken, from)),
        })
        {
            BaseAddress = portalUrl,
            Timeout = TimeSpan.FromSeconds(60),
        };
    }

    public Uri PortalUrl { get; }
    public CookieContainer Cookies { get; }
    public HttpClient Http { get; }

    /// <summary>
    /// Signs in as the demo user with <paramref name="email"/> through the real OpenID Connect flow: the portal sends
    /// the client to the identity provider, whose sign-in form is posted, and the redirects lead back to the portal.
    /// Returns the portal page the flow ends on.
    /// </summary>
    public async Task<HttpResponseMessage> SignInAsync(string email, string path = "/", CancellationToken cancellationToken = default)
    {
        var signInPage = await Http.GetAsync(path, cancellationToken);
        var html = await signInPage.Content.ReadAsStringAsync(cancellationToken);
        var formUrl = signInPage.RequestMessage!.RequestUri!;
        if (!formUrl.AbsolutePath.EndsWith("/account/sign-in", StringComparison.Ordinal))
            throw new InvalidOperationException($"Expected the identity provider's sign-in page, got {(int)signInPage.StatusCode} at {formUrl}");

        var form = new Dictionary<string, string>
        {
            ["email"] = email,
            ["returnUrl"] = WebUtility.HtmlDecode(ReturnUrl().Match(html).Groups[1].Value),
            ["__RequestVerificationToken"] = AntiforgeryToken().Match(html).Groups[1].Value,
        };
        return await Http.PostAsync(formUrl, new FormUrlEncodedContent(form), cancellationToken);
    }

    public static ValueTask<Stream> ConnectToLoopbackAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken) =>
        ConnectToLoopbackAsync(context, cancellationToken, null);

    public static ValueTask<Stream> ConnectToLoopbackAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken, IPAddress? from) =>
        ConnectToLoopbackAsync(context.DnsEndPoint, cancellationToken, from);

    /// <summary>A connection to <paramref name="endPoint"/>, on loopback for <c>*.localhost</c> hosts.</summary>
    public static async ValueTask<Stream> ConnectToLoopbackAsync(DnsEndPoint endPoint, CancellationToken cancellationToken, IPAddress? from = null)
    {
        var host = endPoint.Host;
        var address = host == "localhost" || host.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase)
            ? IPAddress.Loopback
            : (await Dns.GetHostAddressesAsync(host, cancellationToken))[0];
        var socket = from is null ? new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true } : new Socket(from.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            if (from is not null) socket.Bind(new IPEndPoint(from, 0));
            await socket.ConnectAsync(new IPEndPoint(address, endPoint.Port), cancellationToken);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public void Dispose() => Http.Dispose();

    [GeneratedRegex("name=\"returnUrl\" value=\"([^\"]*)\"")]
    private static partial Regex ReturnUrl();

    [GeneratedRegex("name=\"__RequestVerificationToken\" type=\"hidden\" value=\"([^\"]*)\"")]
    private static partial Regex AntiforgeryToken();
}
