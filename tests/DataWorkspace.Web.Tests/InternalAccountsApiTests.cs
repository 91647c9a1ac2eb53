using System.Net;
using System.Net.Http.Json;
using DataWorkspace.Contracts;
using DataWorkspace.Web.Audit;

namespace DataWorkspace.Web.Tests;

/// <summary>
/// The proxy's API for sign-ins and sessions: the web app, which owns users and the audit log, records each sign-in,
/// refuses deactivated users, and says which users are deactivated; to the proxy's service identity only.
/// </summary>
public sealed class InternalAccountsApiTests(WebFixture web)
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private async Task<PlatformIdentity> UserAsync(bool deactivated = false)
    {
        var user = CatalogueData.NewUser("accounts.example");
        await web.ScalarAsync<object>("INSERT INTO users (id, email, name, first_seen_at, last_seen_at, deactivated_at) VALUES ($1, $2, $3, now(), now(), $4)",
            user.UserId, user.Email, user.Name, deactivated ? DateTime.UtcNow : DBNull.Value);
        return user;
    }

    private async Task<HttpResponseMessage> PostAsync(string path, object body, string? service)
    {
        using var client = web.Factory.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, InternalAccounts.Prefix + path) { Content = JsonContent.Create(body) };
        if (service is not null) request.Headers.TryAddWithoutValidation(IdentityHeaders.ServiceIdentity, service);
        return await client.SendAsync(request, Cancel);
    }

    [Fact]
    public async Task A_sign_in_is_recorded_and_a_deactivated_user_is_refused_and_recorded_as_refused()
    {
        var active = await UserAsync();
        var leaver = await UserAsync(deactivated: true);
        var newcomer = CatalogueData.NewUser("accounts.example");

        var answers = new List<SignInDecision?>();
        foreach (var user in new[] { active, leaver, newcomer })
        {
            using var response = await PostAsync(InternalAccounts.SignIns, new SignInReport(user.UserId, user.Email, "10.1.2.3"), web.Tokens().IssueService());
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            answers.Add(await response.Content.ReadFromJsonAsync<SignInDecision>(Cancel));
        }

        Assert.Equal([new(false), new(true), new(false)], answers);
        Assert.Equal($"{active.Email} signed in from 10.1.2.3", await web.ScalarAsync<string>(
            "SELECT summary FROM audit_events WHERE action = $1 AND subject_user_id = $2 AND actor_id = $2 AND client_ip = '10.1.2.3'", AuditActions.SignedIn, active.UserId));
        Assert.Equal($"{leaver.Email} was refused sign-in: the account is deactivated from 10.1.2.3", await web.ScalarAsync<string>(
            "SELECT summary FROM audit_events WHERE action = $1 AND subject_user_id = $2", AuditActions.SignInRefused, leaver.UserId));
        Assert.Equal(0L, await web.ScalarAsync<long>("SELECT count(*) FROM audit_events WHERE action = $1 AND subject_user_id = $2", AuditActions.SignedIn, leaver.UserId));
        // Someone signing in for the first time is not known yet, and is let in.
        Assert.Equal(1L, await web.ScalarAsync<long>("SELECT count(*) FROM audit_events WHERE action = $1 AND subject_user_id = $2", AuditActions.SignedIn, newcomer.UserId));
    }

    [Fact]
    public async Task The_proxy_learns_which_of_its_users_are_deactivated()
    {
        var active = await UserAsync();
        var leaver = await UserAsync(deactivated: true);

        using var response = await PostAsync(InternalAccounts.Deactivated, new DeactivatedUsersQuery([active.UserId, leaver.UserId, "nobody-" + Guid.NewGuid()]), web.Tokens().IssueService());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal([leaver.UserId], (await response.Content.ReadFromJsonAsync<DeactivatedUsersAnswer>(Cancel))!.UserIds);
        using var tooMany = await PostAsync(InternalAccounts.Deactivated, new DeactivatedUsersQuery([.. Enumerable.Range(0, InternalAccounts.MaxUsersAsked + 1).Select(i => $"user-{i}")]), web.Tokens().IssueService());
        Assert.Equal(HttpStatusCode.BadRequest, tooMany.StatusCode);
    }

    [Fact]
    public async Task Nobody_but_the_proxy_may_record_sign_ins_or_ask_who_is_deactivated()
    {
        var user = await UserAsync();
        var asUser = web.Tokens().Issue(user with { Roles = [PlatformIdentity.AdminRole] });

        using var anonymous = await PostAsync(InternalAccounts.SignIns, new SignInReport(user.UserId, user.Email, null), service: null);
        using var withUsersToken = await PostAsync(InternalAccounts.Deactivated, new DeactivatedUsersQuery([user.UserId]), service: asUser);

        Assert.Equal(HttpStatusCode.Forbidden, anonymous.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, withUsersToken.StatusCode);
        Assert.Equal(0L, await web.ScalarAsync<long>("SELECT count(*) FROM audit_events WHERE subject_user_id = $1", user.UserId));
    }
}
