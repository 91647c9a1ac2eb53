using System.Diagnostics;
using System.Net;
using System.Text.Json;
using DataWorkspace.Contracts;
using DataWorkspace.Proxy.ClientAddress;
using DataWorkspace.Proxy.SignIn;
using DataWorkspace.Security;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Forwarder;

namespace DataWorkspace.Proxy.Tools;

/// <summary>
/// The public entry for tool hosts (<c>&lt;basename&gt;-&lt;userhash8&gt;.&lt;root&gt;</c>): only the signed-in
/// owner passes; a running tool is forwarded to (streaming both ways, WebSockets included); a tool that is not running
/// is started and a progress page follows it live; a tool that died is reported and restarted on the next visit.
/// </summary>
public sealed class ToolEntry(
    IHttpForwarder forwarder,
    ToolsClient tools,
    ToolActivity activity,
    IpPolicy ipPolicy,
    ToolSignIn signIn,
    SecurityRefusals refusals,
    IOptions<ProxyOptions> options,
    ILogger<ToolEntry> logger)
{
    /// <summary>The proxy's own paths on a tool host: the progress page's script and its event stream.</summary>
    public const string OwnPrefix = "/_dataworkspace";

    private static readonly ForwarderRequestConfig RequestConfig = new() { ActivityTimeout = TimeSpan.FromMinutes(30) };
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(5);
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private readonly HttpMessageInvoker toolClient = new(new SocketsHttpHandler
    {
        UseProxy = false,
        AllowAutoRedirect = false,
        AutomaticDecompression = DecompressionMethods.None,
        UseCookies = false,
        ConnectTimeout = ConnectTimeout,
        // Header values as Kestrel took them (UTF-8), not refused for not being ASCII (see PortalEntry.CreateWebClient).
        RequestHeaderEncodingSelector = (_, _) => System.Text.Encoding.UTF8,
        // Tools are the users' code: the platform's trace ids are not theirs to see, and requests to them are not traced.
        ActivityHeadersPropagator = null,
        // Nor counted as HTTP client calls: every tool request is already in the proxy's server metrics, and client
        // metrics would carry each instance's address as a label, a new series for every tool ever started.
        MeterFactory = UncollectedMeters.Instance,
    });

    /// <summary>A request to the tool host <paramref name="label"/> (the part of the host before the root domain).</summary>
    public Task HandleAsync(HttpContext context, ReadOnlySpan<char> label) => HandleAsync(context, hostNames.Parse(label));

    /// <summary>Who asks: the signed-in user, the address they come from, and their identity as the web app is told it.</summary>
    internal readonly record struct Visitor(PlatformUser User, IPAddress Address, PlatformIdentity Identity);

    private async Task HandleAsync(HttpContext context, ToolHostLabel parsed)
    {
        // The proxy's own pages here (progress, errors) may show inside the portal's frame of a wrapped tool.
        context.Items[SecurityHeaders.OwnPageFrameAncestorsKey] = PortalOriginFor(context).FrameAncestors;
        if (await ApiTokenSignIn.RefusedOnToolHostAsync(context)) return;
        if (Forwarding.PortalEntry.RefusedTunnel(context))
        {
            context.Response.StatusCode = StatusCodes.Status405MethodNotAllowed;
            await ProxyPages.WriteAsync(context.Response, "Method not allowed", "Data Workspace is not a forward proxy: CONNECT opens no tunnel here.");
            return;
        }
        if (parsed.Name is not { } name)
        {
            await UnknownAddressAsync(context, parsed);
            return;
        }

        if (await AdmitAsync(context, name) is not { } visitor) return;
        if (context.Request.Path.StartsWithSegments(OwnPrefix))
        {
            await OwnPathAsync(context, name, visitor.Identity);
            return;
        }

        if (await RefusedForeignWebSocketAsync(context)) return;
        if (await RunningStateAsync(context, name, visitor.Identity) is not { } state) return;
        if (await RefusedUnofferedPortAsync(context, name, state)) return;
        await ForwardAsync(context, name, visitor, state);
    }

    private async Task UnknownAddressAsync(HttpContext context, ToolHostLabel parsed)
    {
        context.Response.StatusCode = parsed.Kind == ToolHostProblem.PortOutOfRange ? StatusCodes.Status400BadRequest : StatusCodes.Status404NotFound;
        await ProxyPages.WriteAsync(context.Response, "Unknown address", $"Data Workspace does not serve '{context.Request.Host.Host}': {parsed.Problem}.", ("Go to the portal", PortalUrl(context, "/")));
    }

    /// <summary>
    /// Who may go further, before anything about the tool is asked: a path as written, a known client address on the
    /// tools' allow list, a signed-in user and, for a user's tool, its owner. Null when refused (the refusal is written).
    /// </summary>
    private async ValueTask<Visitor?> AdmitAsync(HttpContext context, ToolHostName name)
    {
        var request = context.Request;
        if (UnsafePath(context) is { } unsafePath)
        {
            refusals.Record(context, RefusalReason.UnsafePath, $"the path has {unsafePath}");
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            await ProxyPages.WriteAsync(context.Response, "Bad request", $"The address's path has {unsafePath}, which is not passed to tools. Remove it and try again.");
            return null;
        }

        var clientIp = ClientIpResolver.For(context, options.Value.TrustedHops);
        if (clientIp.Address is not { } clientAddress)
        {
            refusals.Record(context, RefusalReason.ClientAddress, clientIp.Failure!);
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            await ProxyPages.WriteAsync(context.Response, "Bad request", $"The client address could not be worked out: {clientIp.Failure}.");
            return null;
        }

        if (!ipPolicy.IsAllowed(clientAddress))
        {
            refusals.Record(context, RefusalReason.AllowList, $"{clientAddress} is not on the tools' allow list");
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            await ProxyPages.WriteAsync(context.Response, "Not from this network", ipPolicy.Refusal(clientAddress, "Tools"), ("Go to the portal", PortalUrl(context, "/")));
            return null;
        }

        if (await signIn.UserAsync(context, clientAddress) is not { } user)
        {
            await SignInFirstAsync(context);
            return null;
        }

        var identity = new PlatformIdentity(user.Id, user.Email, user.Name, user.Roles, clientAddress.ToString());
        // A visualisation's access is the web app's to decide, per viewer; a user's tool is its owner's alone.
        if (!name.IsVisualisation && name.UserHash != identity.Hash)
        {
            refusals.Record(context, RefusalReason.WrongUser, $"{user.Email} asked for another user's tool");
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            var yours = $"{options.Value.PublicScheme}://{name.Basename}-{identity.Hash}.{options.Value.RootDomain}{PortSuffix(context)}/";
            await ProxyPages.WriteAsync(context.Response, "This is not your tool",
                $"{request.Host.Host} is another user's {name.Basename}, and only they can open it. You are signed in as {user.Email}; your own {name.Basename} is at {yours}.",
                ("Open your own", yours));
            return null;
        }

        return new Visitor(user, clientAddress, identity);
    }

    /// <summary>A WebSocket opened from another origin than the tool's own pages: refused (and true) rather than forwarded.</summary>
    private async ValueTask<bool> RefusedForeignWebSocketAsync(HttpContext context)
    {
        var request = context.Request;
        if (!IsWebSocketUpgrade(request) || request.Headers.Origin.ToString() is not { Length: > 0 } origin
            || (Uri.TryCreate(origin, UriKind.Absolute, out var originUri) && string.Equals(originUri.Authority, request.Host.Value, StringComparison.OrdinalIgnoreCase)))
            return false;
        refusals.Record(context, RefusalReason.ForeignOrigin, $"a WebSocket from {origin}");
        context.Response.StatusCode = StatusCodes.Status403Forbidden;
        await ProxyPages.WriteAsync(context.Response, "Refused", $"A WebSocket to this tool may only be opened from the tool's own pages, not from {origin}.");
        return true;
    }

    /// <summary>
    /// The tool's state if it runs (from the cache, else the web app). Otherwise null, and the request is answered:
    /// why it cannot be opened, or its start and the progress page.
    /// </summary>
    private async ValueTask<ToolHostState?> RunningStateAsync(HttpContext context, ToolHostName name, PlatformIdentity identity)
    {
        var state = tools.CachedRunning(name.Host, identity);
        if (state is null)
        {
            var answer = await tools.CurrentStateAsync(name.Host, identity, context.RequestAborted);
            if (answer.State is not { } current)
            {
                await ExplainAsync(context, name, answer);
                return null;
            }

            state = current;
        }

        if (IsRunning(state)) return state;
        await StartOrShowProgressAsync(context, name, identity, state);
        return null;
    }

    private static bool IsRunning(ToolHostState state) => state is { State: ToolInstanceState.Running, Address: not null };

    /// <summary>A port the template does not declare: refused (and true), as anything else on the tool's machine is not the user's to reach.</summary>
    private async ValueTask<bool> RefusedUnofferedPortAsync(HttpContext context, ToolHostName name, ToolHostState state)
    {
        if (name.Port is not { } asked || state.Ports.Contains(asked)) return false;
        context.Response.StatusCode = StatusCodes.Status404NotFound;
        await ProxyPages.WriteAsync(context.Response, "Unknown address",
            $"{state.TemplateName} does not offer port {asked}. " + (state.Ports is { Count: > 0 } offered ? $"It offers {string.Join(", ", offered)}." : "It offers no other ports."),
            ("Open the tool", $"{options.Value.PublicScheme}://{name.Host}.{options.Value.RootDomain}{PortSuffix(context)}/"));
        return true;
    }

    /// <summary>
    /// Forwards to the running instance, streaming both ways (WebSockets included), as its activity; a tool that did
    /// not answer is reported, unless it was the user who went away.
    /// </summary>
    internal async Task ForwardAsync(HttpContext context, ToolHostName name, Visitor visitor, ToolHostState state)
    {
        var address = state.Address!;
        var destination = name.Port is { } port ? new UriBuilder(address) { Port = port }.Uri.ToString() : address;
        // Tools may frame themselves and be framed by the portal (wrapped tools); no one else may frame them.
        context.Items[SecurityHeaders.FrameAncestorsKey] = PortalOriginFor(context).FrameAncestors;
        if (state.InstanceId is { } instanceId)
        {
            activity.Touch(instanceId);
            activity.TrackUpgrade(context, instanceId);
        }

        var error = await forwarder.SendAsync(context, destination, toolClient, RequestConfig,
            new ToolTransformer(visitor.User, visitor.Address.ToString(), options.Value.RootDomain));
        // A long download or upload was traffic until its end.
        if (state.InstanceId is { } finished) activity.Touch(finished);
        if (error != ForwarderError.None && !context.Response.HasStarted) context.Items.Remove(SecurityHeaders.FrameAncestorsKey);
        if (error == ForwarderError.None) return;
        if (context.RequestAborted.IsCancellationRequested || error is ForwarderError.RequestCanceled or ForwarderError.RequestBodyCanceled
            or ForwarderError.ResponseBodyCanceled or ForwarderError.RequestBodyClient or ForwarderError.ResponseBodyClient
            or ForwarderError.UpgradeRequestCanceled or ForwarderError.UpgradeRequestClient or ForwarderError.UpgradeResponseCanceled or ForwarderError.UpgradeResponseClient)
        {
            // The user went away (a closed tab, a cancelled download): nothing is wrong with the tool.
            logger.LogDebug("{Host}: the client ended the request ({Error})", name.Host, error);
            return;
        }

        await ToolFailedAsync(context, name, visitor.Identity, state, destination, error);
    }

    private async Task StartOrShowProgressAsync(HttpContext context, ToolHostName name, PlatformIdentity identity, ToolHostState state)
    {
        var request = context.Request;
        var navigation = (HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method)) && !IsWebSocketUpgrade(request);
        if (!navigation)
        {
            // Only a person opening the tool starts it: a script's POST or a websocket must not launch anything.
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            await context.Response.WriteAsJsonAsync(new { title = "The tool is not running", status = 503, detail = $"Your {state.TemplateName} is {(state.State == ToolInstanceState.Spawning ? "starting" : "not running")}: open {request.Host} in your browser to start it." });
            return;
        }

        if (state.State is ToolInstanceState.None or ToolInstanceState.Stopped)
        {
            var started = await tools.StartAsync(name.Host, identity, context.RequestAborted);
            if (started.State is not { } now)
            {
                await ExplainAsync(context, name, started);
                return;
            }

            state = now;
            if (IsRunning(state))
            {
                context.Response.Redirect(request.PathBase + request.Path + request.QueryString);
                return;
            }
        }

        context.Response.StatusCode = StatusCodes.Status202Accepted;
        context.Response.ContentType = "text/html; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        await context.Response.WriteAsync(ProgressPage.Html(state, PortalUrl(context, "/"), ProxyPages.IsFramed(request)));
    }

    private async Task OwnPathAsync(HttpContext context, ToolHostName name, PlatformIdentity identity)
    {
        var path = context.Request.Path.Value![OwnPrefix.Length..];
        if (path == "/progress.js")
        {
            context.Response.ContentType = "text/javascript; charset=utf-8";
            context.Response.Headers.CacheControl = "no-cache";
            await context.Response.WriteAsync(ProgressPage.Script);
            return;
        }

        if (path != "/events")
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            await ProxyPages.WriteAsync(context.Response, "Page not found", "This address is the platform's, not the tool's.");
            return;
        }

        // Server-sent events: each change of the spawn as it happens, until the tool answers or fails.
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-store";
        var since = context.Request.Query["since"].ToString();
        var until = Stopwatch.GetTimestamp() + 10 * 60 * Stopwatch.Frequency;
        while (!context.RequestAborted.IsCancellationRequested && Stopwatch.GetTimestamp() < until)
        {
            var answer = await tools.StateAsync(name.Host, identity, since.Length > 0 ? since : "-", TimeSpan.FromSeconds(20), context.RequestAborted);
            if (answer.State is not { } state)
            {
                await context.Response.WriteAsync($"event: failed\ndata: {JsonSerializer.Serialize(new { error = answer.Problem }, Json)}\n\n");
                return;
            }

            if (state.Version != since)
            {
                since = state.Version;
                var kind = state.State switch { ToolInstanceState.Running => "ready", ToolInstanceState.Spawning => "state", _ => "failed" };
                await context.Response.WriteAsync($"event: {kind}\ndata: {JsonSerializer.Serialize(state, Json)}\n\n");
                await context.Response.Body.FlushAsync(context.RequestAborted);
                if (kind != "state") return;
            }
            else
            {
                await context.Response.WriteAsync(": still starting\n\n");
                await context.Response.Body.FlushAsync(context.RequestAborted);
            }
        }
    }

    /// <summary>The tool did not answer: if it died, the web app marks it stopped and the user is offered a restart.</summary>
    private async Task ToolFailedAsync(HttpContext context, ToolHostName name, PlatformIdentity identity, ToolHostState state, string destination, ForwarderError error)
    {
        var exception = context.GetForwarderErrorFeature()?.Exception;
        tools.Forget(name.Host);
        if (context.Response.HasStarted)
        {
            logger.LogInformation(exception, "Forwarding to {Host} ended early: {Error}", name.Host, error);
            return;
        }

        // Only a tool that cannot be connected to has died; one that answered badly or slowly is still there.
        var (gone, reason) = await ToolFailure.OfAsync(error, exception, destination, ConnectTimeout, context.RequestAborted);
        if (!gone)
        {
            logger.LogWarning(exception, "{Host} did not answer properly ({Reason})", name.Host, reason);
            context.Response.Clear();
            context.Response.StatusCode = error == ForwarderError.RequestTimedOut ? StatusCodes.Status504GatewayTimeout : StatusCodes.Status502BadGateway;
            await ProxyPages.WriteAsync(context.Response, $"Your {state.TemplateName} did not answer",
                $"It is running, but did not answer this request properly ({reason}). Try again; if it keeps happening, restart it from your Tools page.",
                ("Try again", context.Request.PathBase + context.Request.Path + context.Request.QueryString));
            return;
        }

        logger.LogWarning(exception, "{Host} did not answer ({Reason}): reporting it stopped", name.Host, reason);
        var after = state.InstanceId is { } instance ? (await tools.DiedAsync(name.Host, instance, reason, identity, CancellationToken.None)).State : null;
        // Stopped on purpose moments ago (by its user, idleness, an admin), rather than found dead.
        var stoppedBecause = after is { State: ToolInstanceState.Stopped, StopCause: not ToolStopCause.StoppedAnswering, StopReason: { } because } ? because : null;
        if (stoppedBecause is not null && HttpMethods.IsGet(context.Request.Method) && !IsWebSocketUpgrade(context.Request))
        {
            // Opening it again starts it, as opening any stopped tool does.
            context.Response.Clear();
            context.Items.Remove(SecurityHeaders.FrameAncestorsKey);
            await StartOrShowProgressAsync(context, name, identity, after!);
            return;
        }

        // Stopped by the platform moments ago (idle, its lifetime, an admin): say that rather than "stopped answering".
        var why = stoppedBecause is not null
            ? $"It was stopped because {stoppedBecause}."
            : $"It stopped answering ({reason}), so it was marked as stopped.";

        context.Response.Clear();
        context.Response.StatusCode = StatusCodes.Status502BadGateway;
        await ProxyPages.WriteAsync(context.Response, $"Your {state.TemplateName} has stopped",
            $"{why} Work saved in your files is kept. Restart it to carry on.",
            ("Restart it", context.Request.PathBase + context.Request.Path + context.Request.QueryString));
    }

    private async Task ExplainAsync(HttpContext context, ToolHostName name, ToolAnswer answer)
    {
        if (answer.Status == HttpStatusCode.Forbidden) refusals.Record(context, RefusalReason.WrongUser, answer.Problem ?? "the web app refused");
        context.Response.StatusCode = (int)answer.Status;
        var title = answer.Status switch
        {
            HttpStatusCode.NotFound => "Unknown address",
            HttpStatusCode.Forbidden when name.IsVisualisation => "You cannot open this visualisation",
            HttpStatusCode.Forbidden => "You cannot open this tool",
            HttpStatusCode.ServiceUnavailable => "The platform is not answering",
            _ => "The tool cannot be opened",
        };
        await ProxyPages.WriteAsync(context.Response, title, (answer.Problem ?? "No reason was given").TrimEnd('.') + ".",
            name.IsVisualisation ? ("Go to the catalogue", PortalUrl(context, "/datasets")) : ("Go to your tools", PortalUrl(context, "/tools")));
    }

    private async Task SignInFirstAsync(HttpContext context)
    {
        var request = context.Request;
        if (!HttpMethods.IsGet(request.Method) || IsWebSocketUpgrade(request))
        {
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            await context.Response.WriteAsJsonAsync(new { title = "Not signed in", status = 401, detail = "Sign in to Data Workspace in a browser first, or your session has expired." });
            return;
        }

        var back = $"{options.Value.PublicScheme}://{request.Host}{request.PathBase}{request.Path}{request.QueryString}";
        context.Response.Redirect(PortalUrl(context, $"{SignInExtensions.SignInPath}?returnUrl={Uri.EscapeDataString(back)}"));
    }

    /// <summary>
    /// "..", encoded or not, and backslashes in the path as the client sent it: Kestrel would quietly resolve or keep
    /// them, so the user's request would not reach the tool as written. Refused with a reason instead.
    /// </summary>
    private static string? UnsafePath(HttpContext context)
    {
        var raw = context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestFeature>()?.RawTarget ?? context.Request.Path.Value ?? "";
        var query = raw.IndexOf('?');
        var path = query < 0 ? raw.AsSpan() : raw.AsSpan(0, query);
        // Most paths have nothing to look at twice.
        if (path.IndexOfAny('\\', '%', '.') < 0) return null;
        if (path.Contains('\\') || path.Contains("%5c", StringComparison.OrdinalIgnoreCase)) return "a backslash";
        var decoded = path.ToString().Replace("%2e", ".", StringComparison.OrdinalIgnoreCase).Replace("%2f", "/", StringComparison.OrdinalIgnoreCase);
        return decoded.Split('/').Any(segment => segment == "..") ? "a '..' segment" : null;
    }

    private static bool IsWebSocketUpgrade(HttpRequest request) =>
        request.Headers.Upgrade.ToString().Contains("websocket", StringComparison.OrdinalIgnoreCase);

    private string PortalOrigin(HttpContext context) => PortalOriginFor(context).Origin;

    /// <summary>
    /// The portal's origin as the browser sees it (the port it used) and the frame-ancestors sources for a tool host,
    /// made once for the port every request comes in on rather than per request.
    /// </summary>
    private PortalOriginStrings PortalOriginFor(HttpContext context)
    {
        var port = context.Request.Host.Port;
        if (lastOrigin is { } last && last.Port == port) return last;
        var origin = options.Value.PortalOrigin(port);
        return lastOrigin = new PortalOriginStrings(port, origin, $"'self' {origin}");
    }

    private PortalOriginStrings? lastOrigin;

    private sealed record PortalOriginStrings(int? Port, string Origin, string FrameAncestors);

    private readonly ToolHostNames hostNames = new();

    private string PortalUrl(HttpContext context, string path) => PortalOrigin(context) + path;

    private static string PortSuffix(HttpContext context) => context.Request.Host.Port is { } port ? ":" + port : "";
}
