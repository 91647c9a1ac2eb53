using System.Net.Http.Json;
using System.Text.Json;
using DataWorkspace.Contracts;
using Microsoft.Extensions.Options;

namespace DataWorkspace.Proxy.SignIn;

/// <summary>
/// The web app's internal accounts API (<see cref="InternalAccounts"/>), called with the proxy's service identity: the
/// web app owns users and the audit log, so it records each sign-in and knows who is deactivated.
/// </summary>
public sealed class AccountsClient(IdentityToken tokens, IOptions<ProxyOptions> options)
{
    private readonly HttpClient http = WebAppInternalApi.Client(options.Value, InternalAccounts.Prefix, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(15));

    /// <summary>Reports a sign-in the identity provider accepted; the web app records it and says whether the user is deactivated.</summary>
    /// <exception cref="PortalUnavailableException">The web app did not answer.</exception>
    public Task<SignInDecision> SignInAsync(SignInReport report, CancellationToken cancellationToken) =>
        PostAsync<SignInReport, SignInDecision>(InternalAccounts.SignIns, report, cancellationToken);

    /// <summary>Those of <paramref name="userIds"/> an administrator has deactivated.</summary>
    /// <exception cref="PortalUnavailableException">The web app did not answer.</exception>
    public async Task<IReadOnlySet<string>> DeactivatedAmongAsync(IEnumerable<string> userIds, CancellationToken cancellationToken)
    {
        var deactivated = new HashSet<string>(StringComparer.Ordinal);
        foreach (var some in userIds.Distinct(StringComparer.Ordinal).Chunk(InternalAccounts.MaxUsersAsked))
            deactivated.UnionWith((await PostAsync<DeactivatedUsersQuery, DeactivatedUsersAnswer>(InternalAccounts.Deactivated, new(some), cancellationToken)).UserIds);
        return deactivated;
    }

    private async Task<TAnswer> PostAsync<TQuestion, TAnswer>(string path, TQuestion question, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path.TrimStart('/')) { Content = JsonContent.Create(question) };
        request.AsTheProxy(tokens);
        try
        {
            using var response = await http.SendAsync(request, cancellationToken);
            if (!response.IsSuccessStatusCode)
                throw new PortalUnavailableException($"the portal answered {(int)response.StatusCode} to {InternalAccounts.Prefix}{path}");
            return await response.Content.ReadFromJsonAsync<TAnswer>(cancellationToken)
                ?? throw new PortalUnavailableException($"the portal gave no answer to {InternalAccounts.Prefix}{path}");
        }
        catch (Exception exception) when (exception is HttpRequestException or JsonException
            || exception is TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            throw new PortalUnavailableException($"the portal is not answering ({exception.Message})", exception);
        }
    }
}

/// <summary>The web app did not answer a question about accounts: nothing is decided in its place.</summary>
public sealed class PortalUnavailableException(string message, Exception? inner = null) : Exception(message, inner);
