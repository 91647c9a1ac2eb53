using System.Diagnostics;
using System.Net;
using DataWorkspace.Contracts;
using DataWorkspace.Proxy.ClientAddress;
using DataWorkspace.Proxy.SignIn;
using DataWorkspace.Security;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Forwarder;

namespace DataWorkspace.Proxy.Forwarding;

/// <summary>
/// The public entry for the portal's host: resolves the client IP, signs the user in, answers the proxy's own
/// paths, and forwards everything else to the web app with the user's signed identity.
/// </summary>
public sealed class PortalEntry(
    IHttpForwarder forwarder,
    HttpMessageInvoker webClient,
    IdentityToken identityTokens,
    IpPolicy ipPolicy,
    SecurityRefusals refusals,
    ApiTokenSignIn apiTokens,
    IOptions<ProxyOptions> options,
    ILogger<PortalEntry> logger)
{
    private static readonly ForwarderRequestConfig RequestConfig = new() { ActivityTimeout = TimeSpan.FromMinutes(15) };
    private readonly string webUrl = options.Value.WebUrl.TrimEnd('/');

    public async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        var clientIp = ClientIpResolver.For(context, options.Value.TrustedHops);
        if (clientIp.Address is not { } clientAddress)
        {
            refusals.Record(context, RefusalReason.ClientAddress, clientIp.Failure!);
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            await ProxyPages.WriteAsync(context.Response, "Bad request", $"The client address could not be worked out: {clientIp.Failure}.");
            return;
        }

        if (RefusedTunnel(context))
        {
            context.Response.StatusCode = StatusCodes.Status405MethodNotAllowed;
            await ProxyPages.WriteAsync(context.Response, "Method not allowed", "Data Workspace is not a forward proxy: CONNECT opens no tunnel here.");
            return;
        }

        if (options.Value.TrustedHops > 0 && request.Headers["X-Forwarded-Proto"].ToString() is "https" or "http")
            request.Scheme = request.Headers["X-Forwarded-Proto"].ToString();

        var path = request.Path;
        if (path.Equals(SignInExtensions.SignOutPath, StringComparison.OrdinalIgnoreCase))
        {
            await SignOutAsync(context);
            return;
        }

        if (path.Equals(SignInExtensions.SignInPath, StringComparison.OrdinalIgnoreCase))
        {
            await SignInAsync(context);
            return;
        }

        if (ServiceDefaultsExtensions.OperatorPaths.Contains(path.Value, StringComparer.OrdinalIgnoreCase) || path.StartsWithSegments(InternalPrefix, StringComparison.OrdinalIgnoreCase))
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            await ProxyPages.WriteAsync(context.Response, "Page not found", "This address is for the platform's operators and is not served on the public entry.");
            return;
        }

        if (IsMachineApi(path))
        {
            // Other systems sign each request (Hawk; basic auth for Prometheus) and the web app checks it: no session, no sign-in, no user identity.
            var machineError = await forwarder.SendAsync(context, webUrl, webClient, RequestConfig, new PortalTransformer(null, clientAddress.ToString()));
            if (machineError != ForwarderError.None) await ExplainForwardingErrorAsync(context, machineError);
            return;
        }

        if (ipPolicy.IsRestricted(path) && !ipPolicy.IsAllowed(clientAddress))
        {
            refusals.Record(context, RefusalReason.AllowList, $"{clientAddress} is not on the allow list for {path}");
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            var refusal = ipPolicy.Refusal(clientAddress, "The Data Explorer and files");
            if (path.StartsWithSegments("/api")) await context.Response.WriteAsJsonAsync(new { title = "Not from this network", status = 403, detail = refusal });
            else await ProxyPages.WriteAsync(context.Response, "Not from this network", refusal, ("Go to the catalogue", "/"));
            return;
        }

        // A script with a personal API token: signed in by the token alone (never redirected to sign in), within its scopes.
        if (ApiTokenSignIn.CarriesBearer(request))
        {
            if (await apiTokens.SignInAsync(context, clientAddress.ToString()) is not { } owner) return;
            var tokenError = await forwarder.SendAsync(context, webUrl, webClient, RequestConfig, new PortalTransformer(identityTokens.Issue(owner), owner.ClientIp, dropAuthorization: true));
            if (tokenError != ForwarderError.None) await ExplainForwardingErrorAsync(context, tokenError);
            return;
        }

        var user = context.User.Identity?.IsAuthenticated == true ? context.User.ToPlatformUser() : null;
        if (user is null)
        {
            await ChallengeAsync(context);
            return;
        }

        var ip = clientAddress.ToString();
        var token = identityTokens.Issue(new PlatformIdentity(user.Id, user.Email, user.Name, user.Roles, ip));
        if (context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpActivityFeature>()?.Activity is { } activity)
        {
            // The fallback route's template would name the span; "portal" says where the request went.
            activity.DisplayName = request.Method + " portal";
            activity.SetTag("enduser.id", user.Id);
        }

        var error = await forwarder.SendAsync(context, webUrl, webClient, RequestConfig, new PortalTransformer(token, ip));
        if (error != ForwarderError.None) await ExplainForwardingErrorAsync(context, error);
    }

    /// <summary>
    /// A CONNECT asking for a tunnel (not HTTP/2's extended CONNECT, which carries websockets): nothing behind the proxy
    /// serves one, and forwarding it would fail as if the web app were down.
    /// </summary>
    public static bool RefusedTunnel(HttpContext context) =>
        HttpMethods.IsConnect(context.Request.Method) && context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpExtendedConnectFeature>()?.IsExtendedConnect != true;

    /// <summary>The machine API's paths, which the proxy forwards without a session.</summary>
    public static bool IsMachineApi(PathString path) =>
        path.StartsWithSegments(MachineApiPrefix, StringComparison.OrdinalIgnoreCase) || path.Equals(ServiceDiscoveryPath, StringComparison.OrdinalIgnoreCase);

    /// <summary>Prometheus's service discovery: basic auth checked by the web app, no session.</summary>
    public const string ServiceDiscoveryPath = "/api/v1/application";

    public const string MachineApiPrefix = "/api/machine";

    /// <summary>The web app's API for the proxy itself (tool instances): never forwarded from the public entry.</summary>
    public const string InternalPrefix = "/internal";

    private async Task ChallengeAsync(HttpContext context)
    {
        var request = context.Request;
        var isNavigation = HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method);
        if (!isNavigation || request.Path.StartsWithSegments("/api") || request.Headers.Accept.ToString().Contains("application/json", StringComparison.OrdinalIgnoreCase))
        {
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            await context.Response.WriteAsJsonAsync(new
            {
                title = "Not signed in",
                status = 401,
                detail = "Sign in to Data Workspace in a browser first, or your session has expired.",
            });
            return;
        }

        try
        {
            await context.ChallengeAsync(OpenIdConnectDefaults.AuthenticationScheme,
                new AuthenticationProperties { RedirectUri = request.PathBase + request.Path + request.QueryString });
        }
        catch (InvalidOperationException exception)
        {
            logger.LogError(exception, "The identity provider could not be reached to start a sign-in");
            context.Response.Clear();
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            await ProxyPages.WriteAsync(context.Response, "Sign-in is unavailable",
                "The identity provider is not answering, so you cannot be signed in right now. Try again in a minute; if it persists, tell the platform team.",
                ("Try again", request.Path + request.QueryString));
        }
    }

    /// <summary>
    /// Signs in (if needed) and returns to <c>returnUrl</c>, which must be the portal or one of its tool hosts: a
    /// link elsewhere cannot use the portal to send someone away.
    /// </summary>
    private async Task SignInAsync(HttpContext context)
    {
        var root = options.Value.RootDomain;
        var returnUrl = context.Request.Query["returnUrl"].ToString();
        var target = Uri.TryCreate(returnUrl, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"
            && (string.Equals(uri.Host, root, StringComparison.OrdinalIgnoreCase) || uri.Host.EndsWith("." + root, StringComparison.OrdinalIgnoreCase))
            ? uri.ToString()
            : "/";
        if (context.User.Identity?.IsAuthenticated == true)
        {
            context.Response.Redirect(target);
            return;
        }

        await context.ChallengeAsync(OpenIdConnectDefaults.AuthenticationScheme, new AuthenticationProperties { RedirectUri = target });
    }

    private async Task SignOutAsync(HttpContext context)
    {
        // Ending the session changes state like any other request: a tool's or visualisation's page is the same site
        // (the session cookie goes with its requests), so an image or a fetch there must not sign the user out.
        if (RequestOrigin.Refusal(context.Request, options.Value.PortalOrigin(context.Request.Host.Port)) is { } foreign)
        {
            refusals.Record(context, RefusalReason.ForeignOrigin, foreign);
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            await ProxyPages.WriteAsync(context.Response, "You are still signed in",
                $"This sign-out did not come from the portal: {foreign}. To sign out, use the link below.", ("Sign out", SignInExtensions.SignOutPath));
            return;
        }

        var signedIn = context.User.Identity?.IsAuthenticated == true;
        await context.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
        if (!signedIn)
        {
            context.Response.Redirect("/");
            return;
        }

        // Also end the identity provider's session, which then sends the browser back to the portal's root.
        await context.SignOutAsync(OpenIdConnectDefaults.AuthenticationScheme, new AuthenticationProperties { RedirectUri = "/" });
    }

    private async Task ExplainForwardingErrorAsync(HttpContext context, ForwarderError error)
    {
        var exception = context.GetForwarderErrorFeature()?.Exception;
        if (ClientFault(context, error, exception) is { } status)
        {
            // The client sent a body that cannot be read (bad chunks, too large) or went away: not the web app's failure.
            logger.LogDebug(exception, "Forwarding {Path}: the client's request failed ({Error})", context.Request.Path, error);
            if (context.Response.HasStarted) return;
            context.Response.Clear();
            context.Response.StatusCode = status;
            if (status == StatusCodes.Status499ClientClosedRequest) return;
            await ProxyPages.WriteAsync(context.Response, status == StatusCodes.Status413PayloadTooLarge ? "Too large" : "Bad request",
                status == StatusCodes.Status413PayloadTooLarge
                    ? "What you sent is larger than the portal takes. Send a smaller file or less data at once."
                    : "The request's body could not be read: it was cut short or its chunked encoding is malformed. Send it again.");
            return;
        }

        logger.LogWarning(exception, "Forwarding {Path} to the web app failed: {Error}", context.Request.Path, error);
        if (context.Response.HasStarted) return;

        context.Response.Clear();
        var again = ("Try again", context.Request.Path + context.Request.QueryString);
        // No answer at all (nothing listening, the connection dropped): the web app is starting or restarting (a
        // deployment, a crash), which takes moments.
        if (error == ForwarderError.Request)
        {
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            context.Response.Headers.RetryAfter = "10";
            await ProxyPages.WriteAsync(context.Response, "The portal is restarting",
                "The Data Workspace portal did not answer, usually because it is restarting. Your tools keep running. Try again in a few seconds; if it still does not answer after a few minutes, tell the platform team.", again);
            return;
        }

        context.Response.StatusCode = error is ForwarderError.RequestTimedOut ? StatusCodes.Status504GatewayTimeout : StatusCodes.Status502BadGateway;
        await ProxyPages.WriteAsync(context.Response, "The portal is not answering",
            $"The Data Workspace web app could not be reached ({error}). Try again in a minute; if it persists, tell the platform team.", again);
    }

    /// <summary>
    /// The status for a forwarding error that is the client's doing (400, 413 for a body over the limit, 499 when it went
    /// away), or null when the web app or the way to it failed.
    /// </summary>
    internal static int? ClientFault(HttpContext context, ForwarderError error, Exception? exception)
    {
        if (error is ForwarderError.RequestCanceled or ForwarderError.RequestBodyCanceled || context.RequestAborted.IsCancellationRequested)
            return StatusCodes.Status499ClientClosedRequest;
        if (error != ForwarderError.RequestBodyClient) return null;
        return exception.Causes().Any(cause => cause is BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge })
            ? StatusCodes.Status413PayloadTooLarge
            : StatusCodes.Status400BadRequest;
    }

    /// <summary>The exception and every one inside it (the forwarder gathers the body's failures in an AggregateException).</summary>
    internal static HttpMessageInvoker CreateWebClient() => new(new SocketsHttpHandler
    {
        // Kestrel takes header values in UTF-8; sent on as UTF-8 they reach the web app as they came (the default
        // refuses anything but ASCII, and the request would fail as if the web app were down).
        RequestHeaderEncodingSelector = (_, _) => System.Text.Encoding.UTF8,
        UseProxy = false,
        AllowAutoRedirect = false,
        AutomaticDecompression = DecompressionMethods.None,
        UseCookies = false,
        EnableMultipleHttp2Connections = true,
        ActivityHeadersPropagator = new ReverseProxyPropagator(DistributedContextPropagator.Current),
        ConnectTimeout = TimeSpan.FromSeconds(15),
    });
}
