using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using DataWorkspace.Contracts;
using DataWorkspace.Web.ApiTokens;
using DataWorkspace.Web.Audit;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace DataWorkspace.Web.Tests;

/// <summary>
/// Personal API tokens: a signed-in user makes one (its text shown once, only its hash kept), lists and revokes it; a
/// script's request with it reaches the /api/v1 endpoints of its scopes only, as its owner, until it expires, is
/// revoked, or its owner is deactivated. The proxy's part is played as the proxy does it: the internal check, then the
/// signed identity with the token's grant.
/// </summary>
public sealed partial class ApiTokensTests(WebFixture web) : IAsyncDisposable
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;
    private readonly PlatformScope platform = new(web);

    private WebApplicationFactory<Program> App => platform.Factory;

    private async Task<PlatformIdentity> UserAsync()
    {
        var user = CatalogueData.NewUser("tokens.example");
        await platform.SignInAsync(user);
        return user;
    }

    /// <summary>The user's browser, signed in (a session's identity, as the proxy signs it).</summary>
    private HttpClient Browser(PlatformIdentity user)
    {
        var client = App.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        client.DefaultRequestHeaders.TryAddWithoutValidation(IdentityHeaders.SignedIdentity, web.Tokens().Issue(user));
        return client;
    }

    private async Task<(string Text, JsonElement Details)> MakeAsync(PlatformIdentity user, string[] scopes, int? days = null, string name = "nightly export")
    {
        using var browser = Browser(user);
        using var response = await browser.PostAsJsonAsync(InternalApiTokens.ManagementApi, new { name, expiresInDays = days, scopes }, Cancel);
        var body = await response.Content.ReadAsStringAsync(Cancel);
        Assert.True(response.StatusCode == HttpStatusCode.Created, body);
        var created = JsonDocument.Parse(body).RootElement;
        return (created.GetProperty("token").GetString()!, created.GetProperty("details").Clone());
    }

    /// <summary>What the proxy does with a script's token: asks the web app about its hash, with its own service identity.</summary>
    private async Task<ApiTokenVerdict> CheckAsync(string text)
    {
        var parsed = ApiTokenText.Parse(text)!;
        using var client = App.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, InternalApiTokens.Prefix + InternalApiTokens.Checks)
        {
            Content = JsonContent.Create(new ApiTokenCheck(parsed.Id, parsed.Hash, "10.9.8.7")),
        };
        request.Headers.TryAddWithoutValidation(IdentityHeaders.ServiceIdentity, web.Tokens().IssueService());
        using var response = await client.SendAsync(request, Cancel);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<ApiTokenVerdict>(Cancel))!;
    }

    /// <summary>A script's client: the token checked, and the request sent on with its owner's identity and its grant (no session).</summary>
    private async Task<HttpClient> ScriptAsync(string text)
    {
        var verdict = await CheckAsync(text);
        Assert.Equal(ApiTokenStatus.Valid, verdict.Status);
        var identity = new PlatformIdentity(verdict.UserId!, verdict.Email!, verdict.Name!, [], "10.9.8.7", new ApiTokenGrant(ApiTokenText.Parse(text)!.Id, verdict.Scopes!));
        var client = App.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        client.DefaultRequestHeaders.TryAddWithoutValidation(IdentityHeaders.SignedIdentity, web.Tokens().Issue(identity));
        return client;
    }

    private static async Task<string> DetailAsync(HttpResponseMessage response)
    {
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync(Cancel)).RootElement.GetProperty("detail").GetString()!;
    }

    [Fact]
    public async Task A_token_is_shown_once_kept_only_as_its_hash_listed_without_its_text_and_audited()
    {
        var user = await UserAsync();

        var (text, details) = await MakeAsync(user, [ApiScopes.CatalogueRead, ApiScopes.Explorer], days: 90);
        using var browser = Browser(user);
        var list = await browser.GetStringAsync(InternalApiTokens.ManagementApi, Cancel);

        Assert.Matches(TokenFormat(), text);
        var parsed = ApiTokenText.Parse(text)!;
        Assert.Equal(parsed.Id, details.GetProperty("id").GetString());
        Assert.Equal(["catalogue:read", "explorer"], details.GetProperty("scopes").EnumerateArray().Select(s => s.GetString()));
        Assert.InRange(details.GetProperty("expiresAt").GetDateTimeOffset() - DateTimeOffset.UtcNow, TimeSpan.FromDays(89.9), TimeSpan.FromDays(90.1));
        Assert.Contains("nightly export", list);
        Assert.DoesNotContain(parsed.Secret, list);
        // The database holds the SHA-256 of the text, and the secret in no column of the row.
        var row = await web.ScalarAsync<string>("SELECT row_to_json(t)::text FROM api_tokens t WHERE id = $1", parsed.Id);
        Assert.DoesNotContain(parsed.Secret, row);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes(text))), await web.ScalarAsync<string>("SELECT hash FROM api_tokens WHERE id = $1", parsed.Id));
        Assert.Equal(0L, await web.ScalarAsync<long>("SELECT count(*) FROM audit_events WHERE summary LIKE '%' || $1 || '%' OR details LIKE '%' || $1 || '%'", parsed.Secret));
        Assert.Contains("catalogue:read, explorer", await web.ScalarAsync<string>(
            "SELECT summary FROM audit_events WHERE action = $1 AND subject_user_id = $2", AuditActions.ApiTokenCreated, user.UserId));
    }

    [Fact]
    public async Task A_script_with_a_token_acts_as_its_owner_within_its_scopes_and_nowhere_else()
    {
        var user = await UserAsync();
        var (text, _) = await MakeAsync(user, [ApiScopes.CatalogueRead]);
        using var script = await ScriptAsync(text);

        using var datasets = await script.GetAsync("/api/v1/datasets", Cancel);
        using var access = await script.GetAsync("/api/v1/me/access", Cancel);
        using var tools = await script.GetAsync("/api/v1/tools", Cancel);
        using var page = await script.GetAsync("/datasets", Cancel);
        using var makeAnother = await script.PostAsJsonAsync(InternalApiTokens.ManagementApi, new { name = "escalate", scopes = ApiScopes.All }, Cancel);
        using var listTokens = await script.GetAsync(InternalApiTokens.ManagementApi, Cancel);

        Assert.Equal(HttpStatusCode.OK, datasets.StatusCode);
        Assert.Contains("\"results\"", await datasets.Content.ReadAsStringAsync(Cancel));
        Assert.Equal(HttpStatusCode.OK, access.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, tools.StatusCode);
        Assert.Contains("needs a token with the 'tools' scope", await DetailAsync(tools));
        Assert.Equal(HttpStatusCode.Forbidden, page.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, makeAnother.StatusCode);
        Assert.Contains("token management", await DetailAsync(makeAnother));
        Assert.Equal(HttpStatusCode.Forbidden, listTokens.StatusCode);
        Assert.Equal(1L, await web.ScalarAsync<long>("SELECT count(*) FROM api_tokens WHERE user_id = $1", user.UserId));
    }

    [Fact]
    public async Task A_tokens_state_change_needs_no_origin_but_a_sessions_from_another_origin_is_still_refused()
    {
        var user = await UserAsync();
        var (text, _) = await MakeAsync(user, [ApiScopes.Tools]);
        using var script = await ScriptAsync(text);
        using var browser = Browser(user);

        using var fromScript = new HttpRequestMessage(HttpMethod.Post, "/api/v1/tools/jupyterlab/stop");
        fromScript.Headers.TryAddWithoutValidation("Origin", "http://jupyterlab-1a2b3c4d.dataworkspace.localhost:8000");
        using var scriptAnswer = await script.SendAsync(fromScript, Cancel);
        using var fromToolPage = new HttpRequestMessage(HttpMethod.Post, "/api/v1/tools/jupyterlab/stop");
        fromToolPage.Headers.TryAddWithoutValidation("Origin", "http://jupyterlab-1a2b3c4d.dataworkspace.localhost:8000");
        using var browserAnswer = await browser.SendAsync(fromToolPage, Cancel);

        // The script's stop reaches the tools API (which has nothing of theirs to stop); the page's is refused at the door.
        Assert.Equal(HttpStatusCode.NotFound, scriptAnswer.StatusCode);
        Assert.Contains("is not running", await DetailAsync(scriptAnswer));
        Assert.Equal(HttpStatusCode.Forbidden, browserAnswer.StatusCode);
        Assert.Contains("Only the portal's own pages can make changes", await DetailAsync(browserAnswer));
    }

    [Fact]
    public async Task A_revoked_token_is_refused_and_its_revocation_and_use_are_audited_once_a_minute_at_most()
    {
        var user = await UserAsync();
        var (text, details) = await MakeAsync(user, [ApiScopes.Files]);
        var id = details.GetProperty("id").GetString()!;

        var first = await CheckAsync(text);
        await CheckAsync(text);
        var usesWithinAMinute = await web.ScalarAsync<long>("SELECT count(*) FROM audit_events WHERE action = $1 AND subject_user_id = $2 AND client_ip = '10.9.8.7'", AuditActions.ApiTokenUsed, user.UserId);
        platform.Clock.Advance(TimeSpan.FromMinutes(2));
        await CheckAsync(text);
        using var browser = Browser(user);
        using var revoked = await browser.DeleteAsync($"{InternalApiTokens.ManagementApi}/{id}", Cancel);
        var afterwards = await CheckAsync(text);
        using var someoneElse = Browser(await UserAsync());
        using var someoneElses = await someoneElse.DeleteAsync($"{InternalApiTokens.ManagementApi}/{id}", Cancel);
        var list = JsonDocument.Parse(await browser.GetStringAsync(InternalApiTokens.ManagementApi, Cancel)).RootElement.GetProperty("tokens");

        Assert.Equal(ApiTokenStatus.Valid, first.Status);
        Assert.Equal(user.UserId, first.UserId);
        Assert.Equal([ApiScopes.Files], first.Scopes);
        Assert.Equal(1L, usesWithinAMinute);
        Assert.Equal(2L, await web.ScalarAsync<long>("SELECT count(*) FROM audit_events WHERE action = $1 AND subject_user_id = $2", AuditActions.ApiTokenUsed, user.UserId));
        Assert.Equal(HttpStatusCode.OK, revoked.StatusCode);
        Assert.Equal(ApiTokenStatus.Revoked, afterwards.Status);
        Assert.Contains("was revoked on", afterwards.Detail);
        Assert.Contains(InternalApiTokens.Page, afterwards.Detail);
        Assert.Equal(HttpStatusCode.NotFound, someoneElses.StatusCode);
        Assert.Equal("revoked", list.EnumerateArray().Single().GetProperty("status").GetString());
        Assert.NotEqual(JsonValueKind.Null, list.EnumerateArray().Single().GetProperty("lastUsedAt").ValueKind);
        Assert.Equal(1L, await web.ScalarAsync<long>("SELECT count(*) FROM audit_events WHERE action = $1 AND subject_user_id = $2", AuditActions.ApiTokenRevoked, user.UserId));
    }

    [Fact]
    public async Task A_token_expires_after_its_days_by_the_platforms_clock()
    {
        var user = await UserAsync();
        var (text, _) = await MakeAsync(user, [ApiScopes.CatalogueRead], days: 7);

        var fresh = await CheckAsync(text);
        platform.Clock.Advance(TimeSpan.FromDays(7) + TimeSpan.FromMinutes(1));
        var stale = await CheckAsync(text);
        using var browser = Browser(user);
        var list = JsonDocument.Parse(await browser.GetStringAsync(InternalApiTokens.ManagementApi, Cancel)).RootElement.GetProperty("tokens");

        Assert.Equal(ApiTokenStatus.Valid, fresh.Status);
        Assert.Equal(ApiTokenStatus.Expired, stale.Status);
        Assert.Contains("expired on", stale.Detail);
        Assert.Equal("expired", list.EnumerateArray().Single().GetProperty("status").GetString());
    }

    [Fact]
    public async Task A_deactivated_users_tokens_stop_working()
    {
        var user = await UserAsync();
        var (text, _) = await MakeAsync(user, [ApiScopes.CatalogueRead]);
        using var script = await ScriptAsync(text);

        await web.ScalarAsync<object>("UPDATE users SET deactivated_at = now(), deactivated_by = 'admin@tokens.example' WHERE id = $1", user.UserId);
        App.Services.GetRequiredService<DataWorkspace.Web.Identity.DeactivatedUsers>().Forget();
        var verdict = await CheckAsync(text);
        using var signedJustBefore = await script.GetAsync("/api/v1/datasets", Cancel);

        Assert.Equal(ApiTokenStatus.Deactivated, verdict.Status);
        Assert.Contains("has been deactivated", verdict.Detail);
        Assert.Equal(HttpStatusCode.Forbidden, signedJustBefore.StatusCode);
    }

    [Fact]
    public async Task Deactivating_an_account_revokes_its_tokens_so_a_reactivation_does_not_bring_them_back()
    {
        var user = await UserAsync();
        var (text, _) = await MakeAsync(user, [ApiScopes.CatalogueRead]);
        await using var scope = App.Services.CreateAsyncScope();
        var steps = scope.ServiceProvider.GetServices<DataWorkspace.Web.Users.IDeactivationStep>().ToList();
        var tokensStep = Assert.Single(steps.OfType<DataWorkspace.Web.ApiTokens.ApiTokenService>());

        await tokensStep.EndAsync(user.UserId, user.Email, new Actor("admin-1", "admin@tokens.example", null), Cancel);
        var afterwards = await CheckAsync(text);

        // Refused as revoked whatever the account's state, and said in the audit log.
        Assert.Equal(ApiTokenStatus.Revoked, afterwards.Status);
        Assert.Equal(1L, await web.ScalarAsync<long>("SELECT count(*) FROM audit_events WHERE action = 'api-token.revoked' AND subject_user_id = $1 AND summary LIKE '%deactivation%'", user.UserId));
    }

    [Fact]
    public async Task An_unknown_or_mistyped_token_is_unknown()
    {
        var user = await UserAsync();
        var (text, _) = await MakeAsync(user, [ApiScopes.CatalogueRead]);
        var parsed = ApiTokenText.Parse(text)!;

        var wrongSecret = await CheckAsync(new ApiTokenText(parsed.Id, new string('0', 64)).Reveal());
        var nobodys = await CheckAsync(ApiTokenText.New().Reveal());

        Assert.Equal(ApiTokenStatus.Unknown, wrongSecret.Status);
        Assert.Null(wrongSecret.UserId);
        Assert.Equal(ApiTokenStatus.Unknown, nobodys.Status);
        Assert.Null(ApiTokenText.Parse("dwp_" + parsed.Id + "_" + parsed.Secret[..10]));
        Assert.Null(ApiTokenText.Parse("ghp_" + text[4..]));
    }

    [Fact]
    public async Task A_token_without_a_name_or_scopes_or_with_too_long_a_life_is_not_made_and_the_answer_says_why()
    {
        var user = await UserAsync();
        using var browser = Browser(user);

        async Task<(HttpStatusCode, string Field, string Detail)> TryAsync(object body)
        {
            using var response = await browser.PostAsJsonAsync(InternalApiTokens.ManagementApi, body, Cancel);
            var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Cancel)).RootElement;
            return (response.StatusCode, problem.GetProperty("field").GetString()!, problem.GetProperty("detail").GetString()!);
        }

        var noName = await TryAsync(new { name = " ", scopes = new[] { ApiScopes.Files } });
        var noScopes = await TryAsync(new { name = "x", scopes = Array.Empty<string>() });
        var unknownScope = await TryAsync(new { name = "x", scopes = new[] { "admin" } });
        var tooLong = await TryAsync(new { name = "x", expiresInDays = 400, scopes = new[] { ApiScopes.Files } });

        Assert.Equal((HttpStatusCode.BadRequest, "name"), (noName.Item1, noName.Field));
        Assert.Equal((HttpStatusCode.BadRequest, "scopes"), (noScopes.Item1, noScopes.Field));
        Assert.Contains("Unknown scope 'admin'", unknownScope.Detail);
        Assert.Equal((HttpStatusCode.BadRequest, "expiresInDays"), (tooLong.Item1, tooLong.Field));
        Assert.Contains("from 1 to 365 days", tooLong.Detail);
        Assert.Equal(0L, await web.ScalarAsync<long>("SELECT count(*) FROM api_tokens WHERE user_id = $1", user.UserId));
    }

    [Fact]
    public async Task The_page_makes_a_token_shows_it_once_and_revokes_it()
    {
        var user = await UserAsync();
        using var browser = Browser(user);

        var empty = await browser.GetStringAsync(InternalApiTokens.Page, Cancel);
        using var made = await browser.PostAsync(InternalApiTokens.Page + "?handler=Create", new FormUrlEncodedContent(
        [
            new("__RequestVerificationToken", Antiforgery(empty)), new("Name", "From the page"), new("ExpiresInDays", "7"),
            new("Scopes", ApiScopes.Explorer), new("Scopes", ApiScopes.Files),
        ]), Cancel);
        var madePage = await made.Content.ReadAsStringAsync(Cancel);
        var text = NewToken().Match(madePage).Groups[1].Value;
        var again = await browser.GetStringAsync(InternalApiTokens.Page, Cancel);
        var id = ApiTokenText.Parse(text)!.Id;
        using var revoked = await browser.PostAsync(InternalApiTokens.Page + "?handler=Revoke", new FormUrlEncodedContent(
            [new("__RequestVerificationToken", Antiforgery(again)), new("id", id)]), Cancel);
        var afterRevoking = await browser.GetStringAsync(revoked.Headers.Location!.ToString(), Cancel);
        using var copyScript = await browser.GetAsync("/dist/api-tokens.js", Cancel);

        Assert.Contains("You have no tokens.", empty);
        Assert.Equal(HttpStatusCode.OK, made.StatusCode);
        Assert.True(made.Headers.CacheControl?.NoStore, "the page with the new token may be kept by the browser's cache");
        Assert.Matches(TokenFormat(), text);
        Assert.Contains("shown only this once", madePage);
        Assert.Contains("<script type=\"module\" src=\"/dist/api-tokens.js\"></script>", madePage);
        Assert.Contains("clipboard", await copyScript.Content.ReadAsStringAsync(Cancel));
        Assert.Contains("From the page", again);
        Assert.Contains("files, explorer", again);
        Assert.DoesNotContain(text, again);
        Assert.Equal(HttpStatusCode.Redirect, revoked.StatusCode);
        Assert.Contains("The token was revoked", afterRevoking);
        Assert.Contains("Revoked", afterRevoking);
        // A link cannot put its own words on the page where tokens are shown.
        var crafted = await browser.GetStringAsync(InternalApiTokens.Page + "?done=paste-it-at-evil&message=Paste+your+token+at+evil.example", Cancel);
        Assert.DoesNotContain("evil", crafted.Replace("done=paste-it-at-evil", "", StringComparison.Ordinal));
        Assert.DoesNotContain("data-testid=\"tokens-message\"", crafted);
    }

    [Fact]
    public async Task The_page_says_what_is_missing_next_to_the_field()
    {
        var user = await UserAsync();
        using var browser = Browser(user);
        var empty = await browser.GetStringAsync(InternalApiTokens.Page, Cancel);

        using var refused = await browser.PostAsync(InternalApiTokens.Page + "?handler=Create", new FormUrlEncodedContent(
            [new("__RequestVerificationToken", Antiforgery(empty)), new("Name", "No scopes"), new("ExpiresInDays", "30")]), Cancel);
        var page = await refused.Content.ReadAsStringAsync(Cancel);

        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        // The summary leads to the first box, which takes the focus; the fieldset is described by the error.
        Assert.Contains("<a href=\"#scope-catalogue-read\">Choose at least one scope", page);
        Assert.Contains("id=\"scopes-error\"", page);
        Assert.Contains("value=\"No scopes\"", page);
    }

    [Fact]
    public async Task An_administrator_sees_every_token_in_use_and_revokes_anyones()
    {
        var user = await UserAsync();
        var admin = CatalogueData.NewUser("tokens.example") with { Roles = [PlatformIdentity.AdminRole] };
        await platform.SignInAsync(admin);
        var (text, _) = await MakeAsync(user, [ApiScopes.Files], name: "leaky script");
        var id = ApiTokenText.Parse(text)!.Id;
        using var asAdmin = Browser(admin);
        using var asUser = Browser(user);

        using var notForUsers = await asUser.GetAsync("/admin/api-tokens", Cancel);
        var listed = await asAdmin.GetStringAsync($"/admin/api-tokens?Email={Uri.EscapeDataString(user.Email)}", Cancel);
        using var revoked = await asAdmin.PostAsync("/admin/api-tokens?handler=Revoke", new FormUrlEncodedContent(
            [new("__RequestVerificationToken", Antiforgery(listed)), new("id", id)]), Cancel);
        var afterwards = await asAdmin.GetStringAsync($"/admin/api-tokens?Email={Uri.EscapeDataString(user.Email)}", Cancel);

        Assert.Equal(HttpStatusCode.Forbidden, notForUsers.StatusCode);
        Assert.Contains("leaky script", listed);
        Assert.Contains(user.Email, listed);
        Assert.Equal(HttpStatusCode.Redirect, revoked.StatusCode);
        Assert.DoesNotContain("leaky script", afterwards);
        Assert.Equal(ApiTokenStatus.Revoked, (await CheckAsync(text)).Status);
        Assert.Equal(admin.Email, await web.ScalarAsync<string>("SELECT actor_email FROM audit_events WHERE action = $1 AND subject_user_id = $2", AuditActions.ApiTokenRevoked, user.UserId));
    }

    [Fact]
    public async Task The_api_document_describes_the_bearer_scheme_and_each_operations_scope()
    {
        using var response = await web.GetAsync("/api/openapi/catalogue.json", await UserAsync());
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Cancel));
        var root = document.RootElement;
        var scheme = root.GetProperty("components").GetProperty("securitySchemes").GetProperty(ApiTokenDocumentation.TokenScheme);
        var paths = root.GetProperty("paths");

        string[] ScopesOf(string path, string method) => [.. paths.GetProperty(path).GetProperty(method).GetProperty("security").EnumerateArray()
            .SelectMany(requirement => requirement.EnumerateObject()).Where(p => p.Name == ApiTokenDocumentation.TokenScheme)
            .SelectMany(p => p.Value.EnumerateArray()).Select(scope => scope.GetString()!)];

        Assert.Equal("http", scheme.GetProperty("type").GetString());
        Assert.Equal("bearer", scheme.GetProperty("scheme").GetString());
        Assert.Equal([ApiScopes.CatalogueRead], ScopesOf("/api/v1/datasets", "get"));
        Assert.Equal([ApiScopes.Explorer], ScopesOf("/api/v1/explorer/run", "post"));
        Assert.Equal([ApiScopes.Files], ScopesOf("/api/v1/aws_credentials", "get"));
        Assert.Equal([ApiScopes.Tools], ScopesOf("/api/v1/tools/{basename}/start", "post"));
        Assert.Empty(ScopesOf(InternalApiTokens.ManagementApi, "post"));
        Assert.Contains("Not with a personal API token", paths.GetProperty(InternalApiTokens.ManagementApi).GetProperty("post").GetProperty("description").GetString());
        // Prometheus's service discovery has credentials of its own: neither a session nor a token.
        Assert.False(paths.GetProperty("/api/v1/application").GetProperty("get").TryGetProperty("security", out _));
    }

    private static string Antiforgery(string page) => Regex.Match(page, "name=\"__RequestVerificationToken\" type=\"hidden\" value=\"([^\"]*)\"").Groups[1].Value;

    [GeneratedRegex("^dwp_[0-9a-f]{16}_[0-9a-f]{64}$")]
    private static partial Regex TokenFormat();

    [GeneratedRegex("value=\"(dwp_[0-9a-f_]+)\"")]
    private static partial Regex NewToken();

    public async ValueTask DisposeAsync() => await platform.DisposeAsync();
}
