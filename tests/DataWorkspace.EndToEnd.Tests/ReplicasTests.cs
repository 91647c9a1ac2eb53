using System.Net;
using System.Text.RegularExpressions;
using DataWorkspace.TestSupport;

namespace DataWorkspace.EndToEnd.Tests;

/// <summary>
/// Two web apps and two proxies on one database, as a load balancer spreads a deployment's replicas: proxy A forwards
/// to web A and proxy B to web B, and the test stands for the load balancer, sending each request to one or the other.
/// Sessions, Data Protection keys and the catalogue live in PostgreSQL, so it makes no difference which answers.
/// </summary>
public sealed partial class ReplicasTests
{
    private const string Tom = "tom.evans@partner.example";
    private const string Priya = "priya.shah@trade.example";

    [Fact]
    public async Task A_user_signed_in_through_one_proxy_is_signed_in_at_the_other_and_sees_there_what_they_did_through_the_first()
    {
        var cancel = TestContext.Current.CancellationToken;
        var dataDirectory = Path.Combine(Path.GetTempPath(), "dw-replicas-" + Guid.NewGuid().ToString("N")[..12]);
        var (portA, portB) = (Ports.Free(), Ports.Free());
        try
        {
            await using var platform = await RunningPlatform.StartAsync<Projects.DataWorkspace_AppHost>(dataDirectory, portA, cancel,
                addResources: builder => AddSecondReplicas(builder, dataDirectory, portB));
            await Task.WhenAll(platform.App.ResourceNotifications.WaitForResourceHealthyAsync("web-b", cancel),
                platform.App.ResourceNotifications.WaitForResourceHealthyAsync("proxy-b", cancel));
            var a = platform.PortalUrl;
            var b = new UriBuilder(a) { Port = portB }.Uri;
            using var tom = new PortalClient(a, followRedirects: false);

            // The sign-in begins at A; the identity provider's answer reaches B, which completes it.
            var callback = await BeginSignInAsync(tom, a, Tom, cancel);
            Assert.Equal(a.Authority, callback.Authority);
            var completed = await tom.Http.GetAsync(new UriBuilder(callback) { Port = portB }.Uri, cancel);
            Assert.Equal(HttpStatusCode.Redirect, completed.StatusCode);
            Assert.DoesNotContain("/auth/", completed.Headers.Location!.ToString());

            // Signed in at both, with the one cookie.
            foreach (var portal in new[] { b, a })
            {
                var home = await tom.Http.GetAsync(portal, cancel);
                Assert.Equal(HttpStatusCode.OK, home.StatusCode);
                Assert.Contains("Welcome, Tom Evans", await home.Content.ReadAsStringAsync(cancel));
            }

            // An access request whose forms go back and forth: each form's antiforgery token is checked by the other web app.
            var slug = "replicas-" + Guid.NewGuid().ToString("N")[..8];
            await platform.CatalogueScalarAsync<object>("""
                INSERT INTO datasets (id, type, name, slug, short_description, description, publisher, licence, retention, classification,
                  information_asset_owner, information_asset_manager, editors, access_type, authorized_email_domains, eligibility_criteria,
                  published, published_at, created_at, updated_at)
                VALUES (gen_random_uuid(), 'SourceDataset', $2, $1, 'Asked for through two replicas', '', 'Test publisher', '', '', 'Official',
                  $3, $3, '{}', 'RequiresAuthorization', '{}', '{"I work on trade policy"}', true, now(), now(), now())
                """, slug, $"Replicas {slug}", Priya);
            var page = $"datasets/{slug}/request-access";
            var eligibility = await ReadAsync(await tom.Http.GetAsync(new Uri(a, page), cancel), cancel);
            Assert.Contains("Do you meet the eligibility criteria", eligibility);
            var details = await ReadAsync(await PostFormAsync(tom, new Uri(b, page + "?handler=Eligibility"), eligibility, cancel, ("meets", "yes")), cancel);
            Assert.Contains("Why do you need this data?", details);
            var summary = await ReadAsync(await PostFormAsync(tom, new Uri(a, page + "?handler=Details"), details, cancel,
                ("Eligible", "true"), ("Reason", "Comparing tariffs across replicas"), ("Months", "1")), cancel);
            Assert.Contains("Check your request", summary);
            var sent = await PostFormAsync(tom, new Uri(b, page + "?handler=Confirm"), summary, cancel,
                ("Eligible", "true"), ("Reason", "Comparing tariffs across replicas"), ("Months", "1"));
            Assert.Equal(HttpStatusCode.Redirect, sent.StatusCode);
            Assert.StartsWith("/requests?sent=", sent.Headers.Location!.ToString());

            // Made through B, seen through A: by Tom, and by Priya, who approves it.
            var requests = await ReadAsync(await tom.Http.GetAsync(new Uri(a, "requests"), cancel), cancel);
            Assert.Contains($"data-testid=\"request-{slug}\"", requests);
            Assert.Contains("Pending", requests);
            using var priya = new PortalClient(a);
            await priya.SignInAsync(Priya, cancellationToken: cancel);
            var awaiting = await ReadAsync(await priya.Http.GetAsync(new Uri(a, "requests"), cancel), cancel);
            Assert.Contains($"Replicas {slug}", awaiting);

            // Signing out through B ends the session at A too, even for a copy of the cookie A has just seen.
            var session = tom.Cookies.GetAllCookies().Single(cookie => cookie.Name == "dw_session");
            using var copy = new PortalClient(a, followRedirects: false);
            copy.Cookies.Add(new Cookie(session.Name, session.Value, "/", session.Domain));
            Assert.Equal(HttpStatusCode.OK, (await copy.Http.GetAsync(a, cancel)).StatusCode);
            await tom.Http.GetAsync(new Uri(b, "auth/sign-out"), cancel);
            await WaitUntilAsync(async () => (await copy.Http.GetAsync(a, cancel)).StatusCode == HttpStatusCode.Redirect, "proxy A to refuse the ended session", cancel);
            var refused = await copy.Http.GetAsync(a, cancel);
            Assert.Equal(platform.IdentityUrl.Authority, refused.Headers.Location!.Authority);

            // Each service's replicas read the one key its migration step made; neither replica made one of its own.
            Assert.Equal(1L, await platform.CatalogueScalarAsync<long>("SELECT count(*) FROM data_protection_keys"));
            Assert.Equal(1L, await platform.CatalogueScalarAsync<long>("SELECT count(*) FROM proxy.data_protection_keys"));
        }
        finally
        {
            TestDirectories.Delete(dataDirectory);
        }
    }

    /// <summary>
    /// web-b and proxy-b: the same projects with the same settings as web and proxy (read from them when they start),
    /// on ports of their own; proxy-b forwards to web-b, and the identity provider accepts proxy-b's addresses too.
    /// </summary>
    private static void AddSecondReplicas(IDistributedApplicationTestingBuilder builder, string dataDirectory, int proxyPort)
    {
        var web = builder.Resources.OfType<ProjectResource>().Single(resource => resource.Name == "web");
        var proxy = builder.Resources.OfType<ProjectResource>().Single(resource => resource.Name == "proxy");
        var webB = SecondOf(builder, web).WithHttpEndpoint().WithHttpHealthCheck("/health")
            // Local tools are the processes of the web app that started them: each replica keeps its own.
            .WithEnvironment("Tools__LocalWorkDirectory", Path.Combine(dataDirectory, "tools-b"));
        SecondOf(builder, proxy).WithHttpEndpoint(port: proxyPort, isProxied: false).WithHttpHealthCheck("/health")
            .WithEnvironment("Proxy__WebUrl", webB.GetEndpoint("http"));
        var portalB = $"http://dataworkspace.localhost:{proxyPort}";
        builder.CreateResourceBuilder(builder.Resources.OfType<ProjectResource>().Single(resource => resource.Name == "identity"))
            .WithEnvironment("DevIdentity__Clients__0__RedirectUris__1", $"{portalB}/auth/callback")
            .WithEnvironment("DevIdentity__Clients__0__PostLogoutRedirectUris__1", $"{portalB}/auth/signed-out");
    }

    private static readonly HashSet<string> OwnAddresses = new(["ASPNETCORE_URLS", "ASPNETCORE_HTTP_PORTS", "ASPNETCORE_HTTPS_PORTS", "HTTP_PORTS", "HTTPS_PORTS"], StringComparer.OrdinalIgnoreCase);

    private static IResourceBuilder<ProjectResource> SecondOf(IDistributedApplicationTestingBuilder builder, ProjectResource original)
    {
        var path = original.Annotations.OfType<IProjectMetadata>().Single().ProjectPath;
        // Not the launch profile: its fixed port is the first replica's.
        var second = builder.AddProject(original.Name + "-b", path, options => options.ExcludeLaunchProfile = true)
            .WithEnvironment("ASPNETCORE_ENVIRONMENT", "Development")
            .WithEnvironment(async context =>
            {
                var theirs = new EnvironmentCallbackContext(context.ExecutionContext, original, [], context.CancellationToken);
                foreach (var callback in original.Annotations.OfType<EnvironmentCallbackAnnotation>()) await callback.Callback(theirs);
                foreach (var (name, value) in theirs.EnvironmentVariables)
                    if (!OwnAddresses.Contains(name) && !context.EnvironmentVariables.ContainsKey(name)) context.EnvironmentVariables[name] = value;
            });
        foreach (var wait in original.Annotations.OfType<WaitAnnotation>()) second.Resource.Annotations.Add(wait);
        return second;
    }

    /// <summary>Follows the sign-in from <paramref name="portal"/> through the identity provider's form; returns the callback it sends the browser to.</summary>
    private static async Task<Uri> BeginSignInAsync(PortalClient client, Uri portal, string email, CancellationToken cancel)
    {
        var response = await client.Http.GetAsync(portal, cancel);
        while (response.StatusCode == HttpStatusCode.Redirect)
            response = await client.Http.GetAsync(new Uri(response.RequestMessage!.RequestUri!, response.Headers.Location!), cancel);
        var form = response.RequestMessage!.RequestUri!;
        var html = await response.Content.ReadAsStringAsync(cancel);
        Assert.EndsWith("/account/sign-in", form.AbsolutePath);
        response = await client.Http.PostAsync(form, new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["email"] = email,
            ["returnUrl"] = WebUtility.HtmlDecode(ReturnUrl().Match(html).Groups[1].Value),
            ["__RequestVerificationToken"] = AntiforgeryToken().Match(html).Groups[1].Value,
        }), cancel);
        while (true)
        {
            Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
            var next = new Uri(response.RequestMessage!.RequestUri!, response.Headers.Location!);
            if (next.AbsolutePath == "/auth/callback") return next;
            response = await client.Http.GetAsync(next, cancel);
        }
    }

    /// <summary>Posts a form of the portal's with the antiforgery token of the page it came from.</summary>
    private static Task<HttpResponseMessage> PostFormAsync(PortalClient client, Uri url, string page, CancellationToken cancel, params (string Name, string Value)[] fields)
    {
        var token = AntiforgeryToken().Match(page);
        Assert.True(token.Success, "the page has no antiforgery token");
        var values = fields.Select(field => new KeyValuePair<string, string>(field.Name, field.Value))
            .Append(new("__RequestVerificationToken", WebUtility.HtmlDecode(token.Groups[1].Value)));
        return client.Http.PostAsync(url, new FormUrlEncodedContent(values), cancel);
    }

    private static async Task<string> ReadAsync(HttpResponseMessage response, CancellationToken cancel)
    {
        var body = await response.Content.ReadAsStringAsync(cancel);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode} from {response.RequestMessage!.RequestUri}: {body[..Math.Min(body.Length, 2000)]}");
        return body;
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string what, CancellationToken cancel)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        deadline.CancelAfter(TimeSpan.FromSeconds(60));
        while (!await condition())
        {
            try
            {
                await Task.Delay(250, deadline.Token);
            }
            catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
            {
                Assert.Fail($"Waited 60 seconds for {what}");
            }
        }
    }

    [GeneratedRegex("name=\"returnUrl\" value=\"([^\"]*)\"")]
    private static partial Regex ReturnUrl();

    [GeneratedRegex("name=\"__RequestVerificationToken\" type=\"hidden\" value=\"([^\"]*)\"")]
    private static partial Regex AntiforgeryToken();
}
