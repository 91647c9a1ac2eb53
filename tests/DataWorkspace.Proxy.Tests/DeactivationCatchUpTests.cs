using System.Diagnostics.Metrics;
using System.Security.Claims;
using System.Security.Cryptography;
using DataWorkspace.Contracts;
using DataWorkspace.Proxy.Schema;
using DataWorkspace.Proxy.SignIn;
using DataWorkspace.Security;
using DataWorkspace.TestSupport;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;

namespace DataWorkspace.Proxy.Tests;

/// <summary>
/// The proxy ends the sessions of users an administrator deactivated, asking the web app (which owns users) rather than
/// reading its tables: after a deactivation made while no replica was listening (all stopped, or their connection
/// lost), and in the periodic session check. While the web app does not answer, nothing is ended and it is asked again.
/// </summary>
public sealed class DeactivationCatchUpTests(PostgresCluster postgres) : IClassFixture<PostgresCluster>
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;
    private readonly IdentitySigningKey key = new(Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)));

    private sealed record Replica(SessionStore Sessions, DeactivatedUsers Deactivated, DeactivationCatchUp CatchUp, SessionCheck Check, string Catalogue);

    /// <summary>A proxy replica's session store on a database of its own, with Alex's two sessions and Tom's one.</summary>
    private async Task<Replica> ReplicaAsync(string webUrl)
    {
        var catalogue = await postgres.CreateDatabaseAsync("catalogue");
        await ProxySchema.ApplyAsync(catalogue, NullLogger.Instance, Cancel);
        var services = new ServiceCollection().AddLogging().AddMetrics().AddOptions().BuildServiceProvider();
        var options = Options.Create(new ProxyOptions { RootDomain = "dataworkspace.localhost", WebUrl = webUrl, SessionCheckInterval = TimeSpan.FromMinutes(1) });
        var refusals = new SecurityRefusals(services.GetRequiredService<IMeterFactory>(), services.GetRequiredService<ILogger<SecurityRefusals>>());
        var deactivated = new DeactivatedUsers(TimeProvider.System);
        var sessions = new SessionStore(NpgsqlDataSource.Create(catalogue), new EphemeralDataProtectionProvider(), deactivated, refusals,
            TimeProvider.System, NullLogger<SessionStore>.Instance);
        var accounts = new AccountsClient(new IdentityToken(key, TimeProvider.System), options);
        var check = new SessionCheck(sessions, deactivated, accounts,
            new IdentityProviderCheck(services.GetRequiredService<IOptionsMonitor<OpenIdConnectOptions>>(), TimeProvider.System),
            refusals, options, services.GetRequiredService<IMeterFactory>(), NullLogger<SessionCheck>.Instance);

        foreach (var user in new[] { "alex", "alex", "tom" })
            await sessions.StoreAsync(new AuthenticationTicket(new ClaimsPrincipal(new ClaimsIdentity([new Claim("sub", user)], "test")), "Cookies"));
        // Last checked long ago: due for the periodic check.
        await Sql.ScalarAsync<object>(catalogue, $"UPDATE {ProxySchema.Sessions} SET checked_at = now() - interval '1 day'");
        return new(sessions, deactivated, new DeactivationCatchUp(sessions, deactivated, accounts, NullLogger<DeactivationCatchUp>.Instance), check, catalogue);
    }

    private static Task<string?> UsersWithSessionsAsync(string catalogue) =>
        Sql.ScalarAsync<string>(catalogue, $"SELECT string_agg(user_id, ',' ORDER BY user_id) FROM {ProxySchema.Sessions}");

    [Fact]
    public async Task Catching_up_ends_the_sessions_of_users_deactivated_while_nobody_listened_and_keeps_the_others()
    {
        await using var web = await StandInWebApp.StartAsync(key);
        web.Deactivated.Add("alex");
        var replica = await ReplicaAsync(web.Url);

        var caughtUp = await replica.CatchUp.CatchUpAsync(Cancel);

        Assert.True(caughtUp);
        Assert.Equal("tom", await UsersWithSessionsAsync(replica.Catalogue));
        Assert.True(replica.Deactivated.Contains("alex"));
        Assert.False(replica.Deactivated.Contains("tom"));
    }

    [Fact]
    public async Task The_periodic_check_ends_the_sessions_of_users_the_web_app_says_are_deactivated()
    {
        await using var web = await StandInWebApp.StartAsync(key);
        web.Deactivated.Add("alex");
        var replica = await ReplicaAsync(web.Url);
        // Tom's session is not due: the identity provider (none here) is not asked about him.
        await Sql.ScalarAsync<object>(replica.Catalogue, $"UPDATE {ProxySchema.Sessions} SET checked_at = now() WHERE user_id = 'tom'");

        await replica.Check.CheckDueAsync(Cancel);

        Assert.Equal("tom", await UsersWithSessionsAsync(replica.Catalogue));
    }

    [Fact]
    public async Task While_the_web_app_does_not_answer_nothing_is_ended_and_the_sessions_are_asked_about_again()
    {
        var replica = await ReplicaAsync($"http://127.0.0.1:{Ports.Free()}");

        var caughtUp = await replica.CatchUp.CatchUpAsync(Cancel);
        await replica.Check.CheckDueAsync(Cancel);

        Assert.False(caughtUp);
        Assert.Equal("alex,alex,tom", await UsersWithSessionsAsync(replica.Catalogue));
        // Due again at once, for the next round.
        Assert.Equal(3L, await Sql.ScalarAsync<long>(replica.Catalogue, $"SELECT count(*) FROM {ProxySchema.Sessions} WHERE checked_at = '-infinity'"));
    }
}
