using System.Net;
using System.Text;
using DataWorkspace.Contracts;
using DataWorkspace.Security;
using DataWorkspace.Web.Catalogue;
using DataWorkspace.Web.Portal;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace DataWorkspace.Web.Tests;

/// <summary>
/// Text PostgreSQL cannot store (a NUL), text that is not text (a lone UTF-16 surrogate), and values far longer than
/// anything the portal asks for, in every query parameter, form field, JSON field and route value of every route:
/// each is refused with 400 naming the value, and nothing answers 5xx.
/// </summary>
public sealed class UnstorableInputTests(WebFixture web)
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    /// <summary>Longer than any address value (8 K), form field (256 K at most) or JSON string (1 M) the portal takes.</summary>
    private static readonly string LongAddressValue = new('x', 10_000);
    private static readonly string LongText = new('x', 300_000);
    private static readonly string LongJsonText = new('x', 1_100_000);

    /// <summary>As long as an address value or an ordinary form field may be: the features and the database get them.</summary>
    private static readonly string LongestAddressValue = new('x', 8 * 1024);
    private static readonly string LongestField = new('x', 32 * 1024);

    [Fact]
    public async Task Every_query_parameter_form_field_json_field_and_route_value_refuses_what_cannot_be_stored()
    {
        var admin = new PlatformIdentity("input-admin-" + Guid.NewGuid().ToString("N")[..8], $"admin-{Guid.NewGuid():N}@example.com", "Input Admin", [PlatformIdentity.AdminRole], "127.0.0.1");
        var dataset = await new CatalogueData(web).DatasetAsync(AccessType.Open);
        var portal = RequestOrigin.Of(web.Factory.Services.GetRequiredService<PortalLinks>().Root);
        var tokens = web.Tokens();
        var plausible = EveryRoute.PlausibleValues(admin, dataset);
        var calls = EveryRoute.Calls(web.Factory.Services, plausible);
        using var client = web.Factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        // Forms carry the page's antiforgery token (its cookie stays in the client), so each page's handler runs.
        using var page = new HttpRequestMessage(HttpMethod.Get, $"/datasets/{dataset.Slug}");
        page.Headers.TryAddWithoutValidation(IdentityHeaders.SignedIdentity, tokens.Issue(admin));
        using var pageResponse = await client.SendAsync(page, Cancel);
        var antiforgery = System.Text.RegularExpressions.Regex.Match(await pageResponse.Content.ReadAsStringAsync(Cancel),
            "name=\"__RequestVerificationToken\" type=\"hidden\" value=\"([^\"]*)\"").Groups[1].Value;
        Assert.NotEmpty(antiforgery);
        FormUrlEncodedContent Form(params (string Name, string Value)[] fields) =>
            new([new("__RequestVerificationToken", antiforgery), .. fields.Select(f => new KeyValuePair<string, string>(f.Name, f.Value))]);
        var failures = new List<(bool ServerError, string What)>();
        var sent = 0;

        async Task<(HttpStatusCode? Status, string Text)> SendAsync(RouteCall call, string url, HttpContent? content)
        {
            sent++;
            using var request = new HttpRequestMessage(new HttpMethod(call.Method), url) { Content = content };
            // An identity lives a minute, as the proxy's do; the run takes longer on a busy machine.
            request.Headers.TryAddWithoutValidation(IdentityHeaders.SignedIdentity, tokens.Issue(admin));
            // From the portal's own pages, so the origin guard lets the state-changing ones through to the check.
            if (call.ChangesState) request.Headers.TryAddWithoutValidation("Origin", portal);
            try
            {
                using var response = await client.SendAsync(request, Cancel);
                return (response.StatusCode, WebUtility.HtmlDecode(await response.Content.ReadAsStringAsync(Cancel)));
            }
            catch (HttpRequestException broken)
            {
                // The response broke off after it started: the server failed part way.
                return (null, broken.Message);
            }
        }

        // What the portal's own pages send with a request that needs a body: a form to a page, JSON to an API.
        HttpContent? Body(RouteCall call) =>
            !call.ChangesState ? null : call.IsPage ? Form() : call.JsonBody is null ? null : new StringContent("{}", Encoding.UTF8, "application/json");

        void NoServerError(RouteCall call, string what, (HttpStatusCode? Status, string Text) answer)
        {
            if (answer.Status is null || (int)answer.Status >= 500)
                failures.Add((true, $"{call} with {what}: {(int?)answer.Status} {CrossOriginTests.Excerpt(answer.Text)}"));
        }

        void Expect(RouteCall call, string what, string named, (HttpStatusCode? Status, string Text) answer, bool mayNotMatch = false)
        {
            var status = (int?)answer.Status;
            // Machine API routes authenticate their callers (Hawk) before anything else; a signed-in user is not one.
            if (status == 401 && call.NotForBrowsers) return;
            if (status == 404 && mayNotMatch) return;
            if (status != 400 || !answer.Text.Contains(named, StringComparison.Ordinal))
                failures.Add((status is null or >= 500, $"{call} with {what}: {status?.ToString() ?? "broken off"} {CrossOriginTests.Excerpt(answer.Text)}"));
        }

        foreach (var call in calls)
        {
            foreach (var name in call.QueryNames.Union(EveryRoute.CommonQueryNames, StringComparer.OrdinalIgnoreCase))
            {
                Expect(call, $"NUL in query parameter {name}", $"'{name}'", await SendAsync(call, call.Url((name, "a\0b")), Body(call)));
                Expect(call, $"a long query parameter {name}", $"'{name}'", await SendAsync(call, call.Url((name, LongAddressValue)), Body(call)));
                NoServerError(call, $"the longest query parameter {name}", await SendAsync(call, call.Url((name, LongestAddressValue)), Body(call)));
            }

            // Bytes that are not UTF-8 (a surrogate's encoding) arrive as U+FFFD, which is stored like any character: taken, or refused, never a crash.
            NoServerError(call, "malformed UTF-8 in the query", await SendAsync(call, call.Url() + (call.Handler is null ? "?" : "&") + "q=%ED%A0%80&page=%ED%A0%80", Body(call)));

            foreach (var name in call.RouteNames)
            {
                var longRoute = call with { Path = EveryRoute.Fill(call.Endpoint.RoutePattern, parameter => parameter.Name == name ? LongAddressValue : plausible(parameter)) };
                // A long value cannot be a guid or an int: a constrained route does not match it at all.
                Expect(call, $"a long route value {name}", $"'{name}'", await SendAsync(call, longRoute.Url(), Body(call)), mayNotMatch: true);
            }

            foreach (var name in call.FormNames)
            {
                Expect(call, $"NUL in form field {name}", $"'{name}'", await SendAsync(call, call.Url(), Form((name, "a\0b"))));
                Expect(call, $"a long form field {name}", $"'{name}'", await SendAsync(call, call.Url(), Form((name, LongText))));
                NoServerError(call, $"the longest form field {name}", await SendAsync(call, call.Url(), Form((name, LongestField))));
            }

            foreach (var field in call.JsonBody is null ? [] : EveryRoute.StringFields(call.JsonBody))
            {
                foreach (var (what, json) in new[] { ("NUL", "a\\u0000b"), ("a lone surrogate", "a\\ud800b"), ("a long value", LongJsonText) })
                    Expect(call, $"{what} in JSON field {field}", $"$.{field}",
                        await SendAsync(call, call.Url(), new StringContent($"{{\"{field}\": \"{json}\"}}", Encoding.UTF8, "application/json")));
            }
        }

        Assert.True(sent > 1000, $"only {sent} requests were sent: the routes were not all found");
        Assert.True(failures.Count == 0, $"{failures.Count} of {sent} requests went wrong, {failures.Count(f => f.ServerError)} of them with a server error (listed first):\n"
            + string.Join('\n', failures.OrderByDescending(f => f.ServerError).Take(300).Select(f => f.What)));
    }

    [Fact]
    public async Task Long_markdown_is_kept_and_what_only_the_database_refuses_is_a_400_saying_why()
    {
        var admin = new PlatformIdentity("input-admin-" + Guid.NewGuid().ToString("N")[..8], $"admin-{Guid.NewGuid():N}@example.com", "Input Admin", [PlatformIdentity.AdminRole], "127.0.0.1");
        using var client = web.Factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        client.DefaultRequestHeaders.TryAddWithoutValidation(IdentityHeaders.SignedIdentity, web.Tokens().Issue(admin));
        client.DefaultRequestHeaders.TryAddWithoutValidation("Origin", RequestOrigin.Of(web.Factory.Services.GetRequiredService<PortalLinks>().Root));
        var antiforgery = System.Text.RegularExpressions.Regex.Match(await client.GetStringAsync("/admin/datasets/edit", Cancel),
            "name=\"__RequestVerificationToken\" type=\"hidden\" value=\"([^\"]*)\"").Groups[1].Value;
        Task<HttpResponseMessage> SaveAsync(string name, string slug, string description) => client.PostAsync("/admin/datasets/edit", new FormUrlEncodedContent(
            [new("__RequestVerificationToken", antiforgery), new("Form.Name", name), new("Form.Slug", slug), new("Form.Description", description)]), Cancel);

        // A description is markdown, longer than an ordinary field may be.
        var slug = "long-" + Guid.NewGuid().ToString("N")[..10];
        var description = string.Join('\n', Enumerable.Repeat("Trade in goods by partner country, with the **methods** used to count it.", 1_500));
        Assert.True(description.Length > 32 * 1024);
        using (var saved = await SaveAsync("Long description " + slug, slug, description))
            Assert.Equal(HttpStatusCode.Redirect, saved.StatusCode);
        Assert.Equal(description.Length, await web.ScalarAsync<int>("SELECT length(description) FROM datasets WHERE slug = $1", slug));

        // A name longer than its column passes the form's own limit; PostgreSQL refuses it, and the page says why.
        var refusedSlug = "long-" + Guid.NewGuid().ToString("N")[..10];
        using var refused = await SaveAsync(new string('n', 1_000), refusedSlug, "");
        var page = WebUtility.HtmlDecode(await refused.Content.ReadAsStringAsync(Cancel));
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("Check what you sent", page);
        Assert.Contains("value too long for type character varying(256)", page);
        Assert.Equal(0L, await web.ScalarAsync<long>("SELECT count(*) FROM datasets WHERE slug = $1", refusedSlug));
    }
}
