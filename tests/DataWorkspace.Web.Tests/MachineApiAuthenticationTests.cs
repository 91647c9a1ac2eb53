using System.Net;
using System.Text.RegularExpressions;
using DataWorkspace.TestSupport;

namespace DataWorkspace.Web.Tests;

/// <summary>Each way a Hawk request can be wrong is refused with a 401 that says which it was.</summary>
public sealed class MachineApiAuthenticationTests(MachineApiFixture machine) : IClassFixture<MachineApiFixture>
{
    private const string Path = "/api/machine/v1/datasets";
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_request_without_a_hawk_header_is_refused_with_a_hawk_challenge()
    {
        var response = await machine.SendAsync(new HttpRequestMessage(HttpMethod.Get, Path));

        await AssertRefusedAsync(response, "Missing Hawk credentials");
    }

    [Fact]
    public async Task A_malformed_header_is_refused()
    {
        var request = new HttpRequestMessage(HttpMethod.Get, Path);
        request.Headers.TryAddWithoutValidation("Authorization", "Hawk id=partner-robot");

        await AssertRefusedAsync(await machine.SendAsync(request), "Malformed Hawk header");
    }

    [Fact]
    public async Task A_mac_made_with_the_wrong_key_is_refused()
    {
        var impostor = new HawkSigner(machine.Partner.Id, HawkSigner.NewKey());

        await AssertRefusedAsync(await machine.GetAsync(impostor, Path), "Wrong MAC");
    }

    [Fact]
    public async Task A_mac_for_another_path_is_refused()
    {
        var uri = new Uri("http://localhost" + Path);
        var request = new HttpRequestMessage(HttpMethod.Get, uri + "?page=2");
        request.Headers.TryAddWithoutValidation("Authorization", machine.Partner.Authorization(HttpMethod.Get, uri));

        await AssertRefusedAsync(await machine.SendAsync(request), "Wrong MAC");
    }

    [Fact]
    public async Task An_unknown_client_is_refused()
    {
        var stranger = new HawkSigner("nobody", HawkSigner.NewKey());

        await AssertRefusedAsync(await machine.GetAsync(stranger, Path), "Unknown client");
    }

    [Fact]
    public async Task A_timestamp_outside_the_skew_window_is_refused_with_the_server_time_to_resync_to()
    {
        var tenMinutesAgo = DateTimeOffset.UtcNow.AddMinutes(-10).ToUnixTimeSeconds();

        var response = await machine.GetAsync(machine.Partner, Path, timestamp: tenMinutesAgo);

        await AssertRefusedAsync(response, "Stale timestamp");
        var challenge = response.Headers.WwwAuthenticate.ToString();
        var ts = Regex.Match(challenge, "ts=\"(\\d+)\"").Groups[1].Value;
        var tsm = Regex.Match(challenge, "tsm=\"([^\"]+)\"").Groups[1].Value;
        Assert.InRange(long.Parse(ts, System.Globalization.CultureInfo.InvariantCulture) - DateTimeOffset.UtcNow.ToUnixTimeSeconds(), -5, 5);
        Assert.Equal(machine.Partner.TimestampMac(ts), tsm);
    }

    [Fact]
    public async Task The_same_request_replayed_is_refused_after_the_first_succeeds()
    {
        var uri = new Uri("http://localhost" + Path);
        var header = machine.Partner.Authorization(HttpMethod.Get, uri);

        var first = new HttpRequestMessage(HttpMethod.Get, uri);
        first.Headers.TryAddWithoutValidation("Authorization", header);
        var replay = new HttpRequestMessage(HttpMethod.Get, uri);
        replay.Headers.TryAddWithoutValidation("Authorization", header);

        Assert.Equal(HttpStatusCode.OK, (await machine.SendAsync(first)).StatusCode);
        await AssertRefusedAsync(await machine.SendAsync(replay), "Replayed nonce");
    }

    [Fact]
    public async Task The_host_signed_is_the_one_the_proxy_says_the_client_called()
    {
        var portal = new Uri("http://dataworkspace.localhost:8000" + Path);
        var request = new HttpRequestMessage(HttpMethod.Get, Path);
        request.Headers.TryAddWithoutValidation("X-Forwarded-Host", "dataworkspace.localhost:8000");
        request.Headers.TryAddWithoutValidation("Authorization", machine.Partner.Authorization(HttpMethod.Get, portal));

        Assert.Equal(HttpStatusCode.OK, (await machine.SendAsync(request)).StatusCode);
    }

    [Fact]
    public async Task A_signed_in_users_identity_does_not_open_the_machine_api()
    {
        var user = CatalogueData.NewUser("trade.example");
        var request = new HttpRequestMessage(HttpMethod.Get, Path);
        request.Headers.TryAddWithoutValidation(DataWorkspace.Contracts.IdentityHeaders.SignedIdentity, machine.Web.Tokens().Issue(user));

        await AssertRefusedAsync(await machine.SendAsync(request), "Missing Hawk credentials");
    }

    private static async Task AssertRefusedAsync(HttpResponseMessage response, string reason)
    {
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        Assert.Contains(reason, await response.Content.ReadAsStringAsync(Cancel));
        Assert.StartsWith("Hawk", response.Headers.WwwAuthenticate.ToString());
    }
}
