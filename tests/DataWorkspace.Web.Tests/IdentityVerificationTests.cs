using System.Net;
using System.Security.Cryptography;
using DataWorkspace.Contracts;
using Microsoft.Extensions.Time.Testing;

namespace DataWorkspace.Web.Tests;

public sealed class IdentityVerificationTests(WebFixture web)
{
    private static readonly PlatformIdentity Priya = new("6f1c2a5e-0000-4000-8000-000000000001", "priya.shah@trade.example", "Priya Shah", [], "203.0.113.7");

    [Fact]
    public async Task A_request_without_an_identity_is_refused_with_an_explanation()
    {
        using var client = web.Factory.CreateClient();

        var response = await client.GetAsync("/", TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("no identity was presented", await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task An_identity_signed_with_another_key_is_refused()
    {
        var forger = new IdentityToken(new IdentitySigningKey(Convert.ToBase64String(RandomNumberGenerator.GetBytes(32))), TimeProvider.System);

        var response = await GetHomeAsync(forger.Issue(Priya));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("signature", await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task An_expired_identity_is_refused()
    {
        var twoMinutesAgo = new FakeTimeProvider(DateTimeOffset.UtcNow.AddMinutes(-2));

        var response = await GetHomeAsync(web.Tokens(twoMinutesAgo).Issue(Priya));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("expired", await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task A_person_cannot_be_a_visualisations_database_identity()
    {
        var response = await GetHomeAsync(web.Tokens().Issue(Priya with { UserId = "app:market-access" }));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("reserved for visualisations", await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Two_identities_on_one_request_are_refused()
    {
        using var client = web.Factory.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/");
        request.Headers.TryAddWithoutValidation(IdentityHeaders.SignedIdentity, [web.Tokens().Issue(Priya), web.Tokens().Issue(Priya with { UserId = "other" })]);

        var response = await client.SendAsync(request, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task A_valid_identity_sees_their_home_page_and_is_recorded_as_a_user()
    {
        var user = Priya with { UserId = Guid.NewGuid().ToString(), Email = $"{Guid.NewGuid():N}@trade.example" };

        var response = await GetHomeAsync(web.Tokens().Issue(user));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("Welcome, Priya Shah", await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        Assert.Equal(user.Email, await web.ScalarAsync<string>("SELECT email FROM users WHERE id = $1", user.UserId));
    }

    [Fact]
    public async Task A_changed_name_at_the_identity_provider_updates_the_user_record()
    {
        var user = Priya with { UserId = Guid.NewGuid().ToString() };
        await GetHomeAsync(web.Tokens().Issue(user));

        var renamed = await GetHomeAsync(web.Tokens().Issue(user with { Name = "Priya Shah-Jones" }));

        Assert.Equal(HttpStatusCode.OK, renamed.StatusCode);
        Assert.Equal("Priya Shah-Jones", await web.ScalarAsync<string>("SELECT name FROM users WHERE id = $1", user.UserId));
    }

    [Theory]
    [InlineData("/healthcheck")]
    [InlineData("/health")]
    public async Task Health_checks_need_no_identity_and_report_the_database(string path)
    {
        using var client = web.Factory.CreateClient();

        var response = await client.GetAsync(path, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    private Task<HttpResponseMessage> GetHomeAsync(string token) => web.GetAsync("/", token);
}
