using System.Globalization;
using System.Security.Claims;
using System.Text.Encodings.Web;
using DataWorkspace.Security;
using DataWorkspace.Web.Identity;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using DataWorkspace.Web.Time;

namespace DataWorkspace.Web.MachineApi;

/// <summary>
/// Authenticates another system by a Hawk MAC over the request, made with the key configured for its client id. The
/// client then reads as <c>machine:&lt;id&gt;</c> with its configured email, under the same access rule as a user.
/// </summary>
public sealed class HawkAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory loggerFactory,
    UrlEncoder encoder,
    IOptionsMonitor<MachineApiOptions> machineApi,
    NonceStore nonces,
    [FromKeyedServices(Clock.Real)] TimeProvider time) : AuthenticationHandler<AuthenticationSchemeOptions>(options, loggerFactory, encoder)
{
    public const string SchemeName = "Hawk";
    public const string UserIdPrefix = "machine:";
    private const int MaxHashedBodyBytes = 1024 * 1024;
    private const string FailureKey = "DataWorkspace.HawkFailure";

    /// <summary>Why a request was refused: the problem's title and what the caller should do about it.</summary>
    private sealed record Refusal(string Title, string Detail, string? ChallengeExtra = null);

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var authorization = Request.Headers.Authorization;
        if (authorization.Count == 0 || string.IsNullOrWhiteSpace(authorization[0]))
            return Refuse(new("Missing Hawk credentials", "The request has no Authorization header. Sign each request with Hawk: Authorization: Hawk id=\"...\", ts=\"...\", nonce=\"...\", mac=\"...\"."));
        if (authorization.Count > 1)
            return Refuse(new("Malformed Hawk header", "The request has more than one Authorization header; send exactly one."));

        var (header, problem) = HawkHeader.Parse(authorization[0]!);
        if (header is null) return Refuse(new("Malformed Hawk header", $"The Authorization header could not be read: {problem}."));

        var settings = machineApi.CurrentValue;
        if (!settings.Clients.TryGetValue(header.Id, out var client))
            return Refuse(new("Unknown client", $"No machine API client has the id '{header.Id}'. Ask the Data Workspace team to configure MachineApi:Clients:{header.Id}."));

        var key = client.KeyBytes;
        var (host, port) = RequestedHostAndPort();
        var expected = HawkHeader.ComputeMac(key, header.Normalized(Request.Method, RequestedTarget(), host, port));
        if (!HawkHeader.MacsEqual(expected, header.Mac))
            return Refuse(new("Wrong MAC", $"The Hawk MAC does not match this request. Compute it with SHA-256 over method, path and query, host '{host}' and port {port} as the server received them, with the key configured for '{header.Id}'."));

        if (header.Hash is not null && !HawkHeader.MacsEqual(await BodyHashAsync(), header.Hash))
            return Refuse(new("Wrong payload hash", "The Hawk 'hash' attribute does not match the request's content type and body. Hash exactly the body sent, or leave 'hash' out."));

        var now = time.GetUtcNow().ToUnixTimeSeconds();
        if (Math.Abs(now - header.Timestamp) > settings.ClockSkew.TotalSeconds)
        {
            var tsm = HawkHeader.TimestampMac(key, now);
            return Refuse(new("Stale timestamp",
                $"The Hawk timestamp {header.Timestamp} is more than {settings.ClockSkew.TotalSeconds:0} seconds from the server's time {now}. Correct the client's clock, or resync from the ts and tsm in the WWW-Authenticate header.",
                $"ts=\"{now.ToString(CultureInfo.InvariantCulture)}\", tsm=\"{tsm}\", "));
        }

        if (!await nonces.TryRecordAsync(header.Id, header.Nonce, Context.RequestAborted))
            return Refuse(new("Replayed nonce", "This nonce was already used by this client. Use a new random nonce for every request."));

        var identity = new ClaimsIdentity(
        [
            new Claim(PlatformClaims.UserId, UserIdPrefix + header.Id),
            new Claim(PlatformClaims.Email, client.Email),
            new Claim(PlatformClaims.Name, $"Machine client {header.Id}"),
        ], SchemeName, PlatformClaims.Name, PlatformClaims.Role);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName));
    }

    /// <summary>The request target exactly as the client sent it, which is what the client signed.</summary>
    private string RequestedTarget()
    {
        var raw = Context.Features.Get<IHttpRequestFeature>()?.RawTarget;
        return raw is { Length: > 0 } && raw[0] == '/'
            ? raw
            : Request.PathBase.Add(Request.Path).ToUriComponent() + Request.QueryString.ToUriComponent();
    }

    /// <summary>The host and port the client addressed: our proxy's X-Forwarded-Host when present, else Host.</summary>
    private (string Host, int Port) RequestedHostAndPort()
    {
        var forwardedHost = Request.Headers["X-Forwarded-Host"].ToString();
        var hostString = forwardedHost.Length > 0 ? new HostString(forwardedHost.Split(',')[0].Trim()) : Request.Host;
        if (hostString.Port is { } port) return (hostString.Host, port);

        var scheme = Request.Headers["X-Forwarded-Proto"].ToString() is { Length: > 0 } proto ? proto.Split(',')[0].Trim() : Request.Scheme;
        return (hostString.Host, string.Equals(scheme, "https", StringComparison.OrdinalIgnoreCase) ? 443 : 80);
    }

    private async Task<string> BodyHashAsync()
    {
        Request.EnableBuffering();
        using var buffer = new MemoryStream();
        await Request.Body.CopyToAsync(buffer, Context.RequestAborted);
        Request.Body.Position = 0;
        return buffer.Length > MaxHashedBodyBytes ? "" : HawkHeader.PayloadHash(Request.ContentType, buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
    }

    private AuthenticateResult Refuse(Refusal refusal)
    {
        Context.Items[FailureKey] = refusal;
        return AuthenticateResult.Fail(refusal.Title);
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var refusal = Context.Items[FailureKey] as Refusal
            ?? new Refusal("Missing Hawk credentials", "Sign each request with Hawk: Authorization: Hawk id=\"...\", ts=\"...\", nonce=\"...\", mac=\"...\".");
        Context.RequestServices.GetRequiredService<SecurityRefusals>().Record(Context, RefusalReason.ServiceCredentials, $"machine API: {refusal.Title}");
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = $"{HawkHeader.Scheme} {refusal.ChallengeExtra}error=\"{refusal.Title}\"";
        await TypedResults.Problem(statusCode: StatusCodes.Status401Unauthorized, title: refusal.Title, detail: refusal.Detail).ExecuteAsync(Context);
    }

    protected override async Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status403Forbidden;
        await TypedResults.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Forbidden",
            detail: "This machine API client may not use this endpoint.").ExecuteAsync(Context);
    }
}
