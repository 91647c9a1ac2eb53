using System.Collections.Concurrent;
using System.Net.Http.Json;
using System.Text.Json;
using DataWorkspace.Contracts;
using DataWorkspace.Security;
using Microsoft.Extensions.Options;

namespace DataWorkspace.Proxy.SignIn;

/// <summary>
/// Signs in a script's request by the personal API token it sends (<c>Authorization: Bearer dwp_...</c>) instead of a
/// session: on the portal's host, for <c>/api/v1</c> only (never token management), as the token's owner with the
/// token's scopes, which the web app enforces per endpoint. The web app, which owns the tokens, checks each one through
/// its internal API (the proxy sends the token's hash, never the token); an answer is kept for
/// <see cref="CheckedFor"/>, so a revoked token is refused within that. Refusals are problem+json, never a sign-in page.
/// </summary>
public sealed class ApiTokenSignIn(IdentityToken tokens, DeactivatedUsers deactivated, SecurityRefusals refusals, TimeProvider time,
    IOptions<ProxyOptions> options, ILogger<ApiTokenSignIn> logger)
{
    /// <summary>How long the web app's answer about a token is used before it is asked again.</summary>
    public static readonly TimeSpan CheckedFor = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How many refused tokens (unknown, expired, revoked, malformed) one client address may send in
    /// <see cref="RefusalWindow"/> before its tokens are refused unasked: each check costs the web app a database read.
    /// </summary>
    public const int MostRefusedPerWindow = 30;

    public static readonly TimeSpan RefusalWindow = TimeSpan.FromMinutes(1);

    private const string ApiPrefix = "/api/v1";
    private const int MostRemembered = 10_000;

    private readonly HttpClient http = WebAppInternalApi.Client(options.Value, InternalApiTokens.Prefix, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(15));
    private readonly ConcurrentDictionary<string, Answer> answers = new(StringComparer.Ordinal);

    private readonly ConcurrentDictionary<string, RefusalCount> refusedByClient = new(StringComparer.Ordinal);

    private sealed record Answer(ApiTokenVerdict Verdict, DateTimeOffset At);

    private sealed record RefusalCount(DateTimeOffset WindowStart, int Count);

    /// <summary>Whether the request carries a bearer token: then it is signed in by that token alone, whatever cookies it has.</summary>
    public static bool CarriesBearer(HttpRequest request)
    {
        foreach (var value in request.Headers.Authorization)
            if (value is not null && value.AsSpan().TrimStart().StartsWith("Bearer", StringComparison.OrdinalIgnoreCase)) return true;
        return false;
    }

    /// <summary>Whether the request carries one of the platform's personal API tokens (which only the portal's API takes).</summary>
    public static bool CarriesPlatformToken(HttpRequest request)
    {
        foreach (var value in request.Headers.Authorization)
            if (value is not null && value.Contains(ApiTokenText.Prefix, StringComparison.Ordinal)) return true;
        return false;
    }

    /// <summary>
    /// A tool's or visualisation's host never takes a platform token (its code is a user's, and could keep it): refused
    /// with a problem saying where tokens work. True when refused. Other Authorization values are the tool's own business.
    /// </summary>
    public static async Task<bool> RefusedOnToolHostAsync(HttpContext context)
    {
        if (!CarriesPlatformToken(context.Request)) return false;
        context.RequestServices.GetRequiredService<SecurityRefusals>().Record(context, RefusalReason.ApiToken, "a personal API token sent to a tool or visualisation host");
        await RefuseAsync(context, StatusCodes.Status403Forbidden, "Not with an API token",
            "Tools and visualisations do not take personal API tokens, and this one was not passed on. Tokens work only on the portal's own address, for its /api/v1 API; open tools in a browser, signed in.");
        return true;
    }

    /// <summary>
    /// The identity of the token's owner for a request that <see cref="CarriesBearer"/>, or null when the request is
    /// refused (the answer is written).
    /// </summary>
    public async Task<PlatformIdentity?> SignInAsync(HttpContext context, string clientIp)
    {
        var request = context.Request;
        var page = options.Value.PortalOrigin(request.Host.Port) + InternalApiTokens.Page;
        if (!request.Path.StartsWithSegments(ApiPrefix, StringComparison.OrdinalIgnoreCase) || request.Path.StartsWithSegments(InternalApiTokens.ManagementApi, StringComparison.OrdinalIgnoreCase))
        {
            refusals.Record(context, RefusalReason.ApiToken, $"a bearer token sent to {request.Path}, which takes none");
            await RefuseAsync(context, StatusCodes.Status403Forbidden, "Not with an API token",
                request.Path.StartsWithSegments(InternalApiTokens.ManagementApi, StringComparison.OrdinalIgnoreCase)
                    ? $"A personal API token cannot make, list or revoke tokens. Manage them signed in, in a browser, at {page}."
                    : $"Personal API tokens work only for the portal's API under {ApiPrefix}/, not for {request.Path}. Open pages in a browser, signed in.");
            return null;
        }

        if (refusedByClient.TryGetValue(clientIp, out var refused) && refused.Count >= MostRefusedPerWindow && time.GetUtcNow() - refused.WindowStart < RefusalWindow)
        {
            refusals.Record(context, RefusalReason.ApiToken, $"a bearer token from {clientIp}, which sent {refused.Count} refused tokens within a minute");
            var wait = RefusalWindow - (time.GetUtcNow() - refused.WindowStart);
            context.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
            await RefuseAsync(context, StatusCodes.Status429TooManyRequests, "Too many refused API tokens",
                $"This address sent {refused.Count} API tokens that were not valid within a minute, so its tokens are not checked for the next {Math.Ceiling(wait.TotalSeconds):0} seconds. Check the token your script sends; make a new one at {page}.");
            return null;
        }

        if (request.Headers.Authorization.Count != 1 || !request.Headers.Authorization[0]!.AsSpan().TrimStart().StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)
            || ApiTokenText.Parse(request.Headers.Authorization[0]!.AsSpan().TrimStart()["Bearer ".Length..]) is not { } text)
        {
            CountRefusal(clientIp);
            refusals.Record(context, RefusalReason.ApiToken, "a malformed bearer token");
            await UnauthorizedAsync(context, "Not a Data Workspace API token",
                $"The Authorization header must be one 'Bearer dwp_<id>_<secret>' with a personal API token as it was shown when it was made. Make one at {page}.");
            return null;
        }

        ApiTokenVerdict verdict;
        try
        {
            verdict = await CheckAsync(text, clientIp, context.RequestAborted);
        }
        catch (PortalUnavailableException unavailable)
        {
            logger.LogWarning("The API token {TokenId} could not be checked: {Reason}", text.Id, unavailable.Message);
            context.Response.Headers.RetryAfter = "30";
            await RefuseAsync(context, StatusCodes.Status503ServiceUnavailable, "The portal is not answering",
                "The API token could not be checked because the Data Workspace web app is not answering. Try again in a minute; if it persists, tell the platform team.");
            return null;
        }

        if (verdict is { Status: ApiTokenStatus.Valid, UserId: not null } && verdict.ExpiresAt <= time.GetUtcNow())
            verdict = new ApiTokenVerdict(ApiTokenStatus.Expired, $"This API token expired on {verdict.ExpiresAt:d MMMM yyyy HH:mm} UTC. Make a new one at {page}.");
        else if (verdict is { Status: ApiTokenStatus.Valid, UserId: { } owner } && deactivated.Contains(owner))
            verdict = new ApiTokenVerdict(ApiTokenStatus.Deactivated,
                $"The Data Workspace account of {verdict.Email} has been deactivated, so its API tokens do not work. If you need it again, ask the Data Workspace administrators to reactivate it.");

        switch (verdict.Status)
        {
            case ApiTokenStatus.Valid:
                return new PlatformIdentity(verdict.UserId!, verdict.Email ?? "", verdict.Name ?? "", [], clientIp, new ApiTokenGrant(text.Id, verdict.Scopes ?? []));
            case ApiTokenStatus.Deactivated:
                refusals.Record(context, RefusalReason.Deactivated, $"the API token {text.Id} of a deactivated account");
                await RefuseAsync(context, StatusCodes.Status403Forbidden, "The account has been deactivated", verdict.Detail);
                return null;
            default:
                CountRefusal(clientIp);
                refusals.Record(context, RefusalReason.ApiToken, $"the API token {text.Id}: {verdict.Status}");
                await UnauthorizedAsync(context, verdict.Status switch
                {
                    ApiTokenStatus.Expired => "The API token has expired",
                    ApiTokenStatus.Revoked => "The API token was revoked",
                    _ => "Unknown API token",
                }, verdict.Detail);
                return null;
        }
    }

    private async Task<ApiTokenVerdict> CheckAsync(ApiTokenText text, string clientIp, CancellationToken cancellationToken)
    {
        var hash = text.Hash;
        var now = time.GetUtcNow();
        if (answers.TryGetValue(hash, out var known) && now - known.At < CheckedFor) return known.Verdict;

        using var request = new HttpRequestMessage(HttpMethod.Post, InternalApiTokens.Checks.TrimStart('/')) { Content = JsonContent.Create(new ApiTokenCheck(text.Id, hash, clientIp)) };
        request.AsTheProxy(tokens);
        ApiTokenVerdict verdict;
        try
        {
            using var response = await http.SendAsync(request, cancellationToken);
            if (!response.IsSuccessStatusCode)
                throw new PortalUnavailableException($"the portal answered {(int)response.StatusCode} to {InternalApiTokens.Prefix}{InternalApiTokens.Checks}");
            verdict = await response.Content.ReadFromJsonAsync<ApiTokenVerdict>(cancellationToken)
                ?? throw new PortalUnavailableException($"the portal gave no answer to {InternalApiTokens.Prefix}{InternalApiTokens.Checks}");
        }
        catch (Exception exception) when (exception is HttpRequestException or JsonException
            || exception is TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            throw new PortalUnavailableException($"the portal is not answering ({exception.Message})", exception);
        }

        if (answers.Count >= MostRemembered)
        {
            foreach (var (key, answer) in answers)
                if (now - answer.At >= CheckedFor) answers.TryRemove(key, out _);
            if (answers.Count >= MostRemembered) answers.Clear();
        }

        answers[hash] = new Answer(verdict, now);
        return verdict;
    }

    private void CountRefusal(string clientIp)
    {
        var now = time.GetUtcNow();
        if (refusedByClient.Count >= MostRemembered)
            foreach (var (address, count) in refusedByClient)
                if (now - count.WindowStart >= RefusalWindow) refusedByClient.TryRemove(address, out _);
        if (refusedByClient.Count >= MostRemembered) refusedByClient.Clear();
        refusedByClient.AddOrUpdate(clientIp, _ => new RefusalCount(now, 1),
            (_, count) => now - count.WindowStart >= RefusalWindow ? new RefusalCount(now, 1) : count with { Count = count.Count + 1 });
    }

    private static Task UnauthorizedAsync(HttpContext context, string title, string detail)
    {
        context.Response.Headers.WWWAuthenticate = "Bearer realm=\"Data Workspace\", error=\"invalid_token\"";
        return RefuseAsync(context, StatusCodes.Status401Unauthorized, title, detail);
    }

    private static Task RefuseAsync(HttpContext context, int status, string title, string detail) =>
        TypedResults.Problem(title: title, detail: detail, statusCode: status).ExecuteAsync(context);
}
