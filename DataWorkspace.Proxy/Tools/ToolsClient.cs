using System.Net;
using System.Net.Http.Json;
using DataWorkspace.Contracts;
using Microsoft.Extensions.Options;

namespace DataWorkspace.Proxy.Tools;

/// <summary>What the web app answered: the state, or its refusal (status and reason in words).</summary>
public sealed record ToolAnswer(ToolHostState? State, HttpStatusCode Status, string? Problem);

/// <summary>
/// The web app's internal API for tool hosts, called with the proxy's own service identity and the user's. Addresses
/// of running tools are cached for a few seconds so a busy tool costs the web app nothing per request.
/// </summary>
public sealed class ToolsClient(IdentityToken tokens, IOptions<ProxyOptions> options, TimeProvider time)
{
    private static readonly TimeSpan AddressFor = TimeSpan.FromSeconds(5);
    private readonly HttpClient http = WebAppInternalApi.Client(options.Value, "/internal/v1/tools", TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(40));

    // Per host and user: the web app decided for this user (a visualisation's access is per viewer), so no one else may
    // reuse its answer.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(string Host, string UserId), (ToolHostState State, DateTimeOffset Until)> running = new();

    private readonly System.Collections.Concurrent.ConcurrentDictionary<(string Host, string UserId), byte> refreshing = new();

    private readonly SharedLookups<(string Host, string UserId), ToolAnswer> asking = new();

    /// <summary>
    /// The running instance at <paramref name="host"/> from the cache, if it was seen running for this user moments
    /// ago. Once an entry is past its few seconds, one request refreshes it in the background while the others carry
    /// on with what was known (for up to <see cref="StaleFor"/>): a busy tool never sends a crowd of lookups to the web
    /// app at once, and a tool that stopped meanwhile is found out by the next forward, which fails and says so.
    /// </summary>
    public ToolHostState? CachedRunning(string host, PlatformIdentity user)
    {
        var key = (host, user.UserId);
        if (!running.TryGetValue(key, out var entry)) return null;
        var now = time.GetUtcNow();
        if (entry.Until > now) return entry.State;
        if (entry.Until + StaleFor < now) return null;
        if (refreshing.TryAdd(key, 0))
        {
            _ = Task.Run(async () =>
            {
                try
                {
                    await StateAsync(host, user, null, TimeSpan.Zero, CancellationToken.None);
                }
                finally
                {
                    refreshing.TryRemove(key, out _);
                }
            });
        }

        return entry.State;
    }

    private static readonly TimeSpan StaleFor = TimeSpan.FromSeconds(30);

    public void Forget(string host)
    {
        foreach (var key in running.Keys)
            if (key.Host == host) running.TryRemove(key, out _);
    }

    /// <summary>
    /// The tool's current state when the cache has none. Requests arriving together (a browser's or a tool client's
    /// parallel connections after a pause) share one question to the web app instead of each asking it.
    /// </summary>
    public Task<ToolAnswer> CurrentStateAsync(string host, PlatformIdentity user, CancellationToken cancellationToken) =>
        asking.GetAsync((host, user.UserId), _ => StateAsync(host, user, null, TimeSpan.Zero, CancellationToken.None)).WaitAsync(cancellationToken);

    public Task<ToolAnswer> StateAsync(string host, PlatformIdentity user, string? since, TimeSpan wait, CancellationToken cancellationToken) =>
        SendAsync(HttpMethod.Get, since is null ? host : $"{host}?since={Uri.EscapeDataString(since)}&wait={wait.TotalSeconds:0}", user, null, cancellationToken);

    public Task<ToolAnswer> StartAsync(string host, PlatformIdentity user, CancellationToken cancellationToken) =>
        SendAsync(HttpMethod.Post, $"{host}/start", user, null, cancellationToken);

    public Task<ToolAnswer> DiedAsync(string host, Guid instanceId, string reason, PlatformIdentity user, CancellationToken cancellationToken)
    {
        Forget(host);
        return SendAsync(HttpMethod.Post, $"{host}/died", user, JsonContent.Create(new ToolDiedRequest(instanceId, reason)), cancellationToken);
    }

    /// <summary>Tells the web app when each instance last had traffic; true when it took the report.</summary>
    public async Task<bool> ActivityAsync(IReadOnlyList<(Guid InstanceId, DateTimeOffset LastActivityAt)> seen, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "activity")
        {
            Content = JsonContent.Create(new ToolActivityReport([.. seen.Select(s => new ToolActivityEntry(s.InstanceId, s.LastActivityAt))])),
        };
        request.AsTheProxy(tokens);
        using var response = await http.SendAsync(request, cancellationToken);
        return response.IsSuccessStatusCode;
    }

    private async Task<ToolAnswer> SendAsync(HttpMethod method, string path, PlatformIdentity user, HttpContent? content, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, path) { Content = content };
        request.Headers.TryAddWithoutValidation(IdentityHeaders.SignedIdentity, tokens.Issue(user));
        request.AsTheProxy(tokens);
        try
        {
            using var response = await http.SendAsync(request, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                var problem = await response.Content.ReadFromJsonAsync<Problem>(cancellationToken).ConfigureAwait(false);
                return new ToolAnswer(null, response.StatusCode, problem?.Detail ?? $"the portal answered {(int)response.StatusCode}");
            }

            var state = await response.Content.ReadFromJsonAsync<ToolHostState>(cancellationToken);
            if (state is { State: ToolInstanceState.Running, Address: not null }) running[(state.Host, user.UserId)] = (state, time.GetUtcNow() + AddressFor);
            else if (state is not null) Forget(state.Host);
            return new ToolAnswer(state, response.StatusCode, null);
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException or System.Text.Json.JsonException && !cancellationToken.IsCancellationRequested)
        {
            return new ToolAnswer(null, HttpStatusCode.ServiceUnavailable, "the portal is not answering, so the tool's state cannot be known");
        }
    }

    private sealed record Problem(string? Title, string? Detail);
}
