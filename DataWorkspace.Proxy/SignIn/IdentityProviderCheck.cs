using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;

namespace DataWorkspace.Proxy.SignIn;

/// <summary>What the identity provider said about a session's user.</summary>
public enum ProviderVerdict
{
    /// <summary>It still knows and accepts the user (it gave new tokens, or answered the userinfo request).</summary>
    Accepted,

    /// <summary>It refused the session's tokens: the user was removed or disabled, or the grant revoked.</summary>
    NoLongerAccepted,

    /// <summary>It could not be asked (not reachable, an error of its own, a configuration it refused): nobody is signed out for that.</summary>
    Unavailable,

    /// <summary>The session holds nothing to ask with: no refresh token, and its access token has expired.</summary>
    NothingToAskWith,
}

/// <summary>The provider's answer; <see cref="Tokens"/> are the session's tokens with what it gave this time.</summary>
public sealed record ProviderAnswer(ProviderVerdict Verdict, string Detail, IReadOnlyList<AuthenticationToken>? Tokens = null);

/// <summary>
/// Asks the OpenID Connect provider whether it still accepts a session's user: a refresh token grant when the session
/// has a refresh token (new tokens mean yes, <c>invalid_grant</c> means no), else the userinfo endpoint with the
/// access token while that is valid (401 means no). Anything else is the provider's trouble, never the user's.
/// </summary>
public sealed class IdentityProviderCheck(IOptionsMonitor<OpenIdConnectOptions> oidc, TimeProvider time)
{
    private static readonly TimeSpan AskFor = TimeSpan.FromSeconds(15);

    public async Task<ProviderAnswer> AskAsync(AuthenticationProperties session, CancellationToken cancellationToken)
    {
        var options = oidc.Get(OpenIdConnectDefaults.AuthenticationScheme);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(AskFor);
        try
        {
            var configuration = await options.ConfigurationManager!.GetConfigurationAsync(timeout.Token);
            if (session.GetTokenValue(OpenIdConnectParameterNames.RefreshToken) is { Length: > 0 } refreshToken)
                return await RefreshAsync(options, configuration, session, refreshToken, timeout.Token);

            var accessToken = session.GetTokenValue(OpenIdConnectParameterNames.AccessToken);
            var expiresAt = DateTimeOffset.TryParse(session.GetTokenValue("expires_at"), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var at) ? at : DateTimeOffset.MinValue;
            if (accessToken is { Length: > 0 } && !string.IsNullOrEmpty(configuration.UserInfoEndpoint) && expiresAt > time.GetUtcNow() + TimeSpan.FromMinutes(1))
                return await UserInfoAsync(options, configuration, accessToken, timeout.Token);

            return new(ProviderVerdict.NothingToAskWith, "the identity provider gave the session no refresh token, and its access token has expired");
        }
        catch (Exception exception) when (exception is HttpRequestException or InvalidOperationException or JsonException
            || exception is OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return new(ProviderVerdict.Unavailable, $"the identity provider could not be asked ({exception.GetType().Name}: {exception.Message})");
        }
    }

    private async Task<ProviderAnswer> RefreshAsync(OpenIdConnectOptions options, OpenIdConnectConfiguration configuration, AuthenticationProperties session,
        string refreshToken, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, configuration.TokenEndpoint)
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string>
            {
                [OpenIdConnectParameterNames.GrantType] = OpenIdConnectGrantTypes.RefreshToken,
                [OpenIdConnectParameterNames.RefreshToken] = refreshToken,
                [OpenIdConnectParameterNames.ClientId] = options.ClientId!,
                [OpenIdConnectParameterNames.ClientSecret] = options.ClientSecret!,
            }),
        };
        using var response = await options.Backchannel.SendAsync(request, cancellationToken);
        var body = await ReadJsonAsync(response, cancellationToken);
        if (response.IsSuccessStatusCode && Text(body, OpenIdConnectParameterNames.AccessToken) is { } accessToken)
        {
            var tokens = session.GetTokens().ToDictionary(token => token.Name, token => token.Value, StringComparer.Ordinal);
            tokens[OpenIdConnectParameterNames.AccessToken] = accessToken;
            // A provider that rotates refresh tokens gives a new one each time; one that does not keeps the old one valid.
            if (Text(body, OpenIdConnectParameterNames.RefreshToken) is { } newRefreshToken) tokens[OpenIdConnectParameterNames.RefreshToken] = newRefreshToken;
            if (Text(body, OpenIdConnectParameterNames.IdToken) is { } idToken) tokens[OpenIdConnectParameterNames.IdToken] = idToken;
            if (body?.TryGetProperty(OpenIdConnectParameterNames.ExpiresIn, out var expiresIn) == true && expiresIn.TryGetInt32(out var seconds))
                tokens["expires_at"] = (time.GetUtcNow() + TimeSpan.FromSeconds(seconds)).ToString("o", CultureInfo.InvariantCulture);
            return new(ProviderVerdict.Accepted, "the identity provider renewed the session's tokens",
                [.. tokens.Select(token => new AuthenticationToken { Name = token.Key, Value = token.Value })]);
        }

        var error = Text(body, OpenIdConnectParameterNames.Error);
        var description = Text(body, OpenIdConnectParameterNames.ErrorDescription);
        // RFC 6749 5.2: the refresh token is invalid, expired or revoked, or was issued for a user the provider no longer accepts.
        if (error == "invalid_grant")
            return new(ProviderVerdict.NoLongerAccepted, $"the identity provider refused the session's refresh token ({description ?? error})");
        return new(ProviderVerdict.Unavailable, $"the identity provider's token endpoint answered {(int)response.StatusCode}{(error is null ? "" : $" ({error}: {description})")}");
    }

    private static async Task<ProviderAnswer> UserInfoAsync(OpenIdConnectOptions options, OpenIdConnectConfiguration configuration, string accessToken, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, configuration.UserInfoEndpoint);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        using var response = await options.Backchannel.SendAsync(request, cancellationToken);
        if (response.IsSuccessStatusCode) return new(ProviderVerdict.Accepted, "the identity provider's userinfo endpoint answered for the user");
        // RFC 6750 3.1: a valid-looking access token it refuses (the token was checked to be unexpired).
        if (response.StatusCode == HttpStatusCode.Unauthorized)
            return new(ProviderVerdict.NoLongerAccepted, $"the identity provider's userinfo endpoint refused the session's access token ({response.Headers.WwwAuthenticate})");
        return new(ProviderVerdict.Unavailable, $"the identity provider's userinfo endpoint answered {(int)response.StatusCode}");
    }

    private static async Task<JsonElement?> ReadJsonAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.Content.Headers.ContentType?.MediaType?.Contains("json", StringComparison.OrdinalIgnoreCase) != true) return null;
        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        using var document = await JsonDocument.ParseAsync(stream, cancellationToken: cancellationToken);
        return document.RootElement.Clone();
    }

    private static string? Text(JsonElement? body, string name) =>
        body is { ValueKind: JsonValueKind.Object } json && json.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String && value.GetString() is { Length: > 0 } text ? text : null;
}
