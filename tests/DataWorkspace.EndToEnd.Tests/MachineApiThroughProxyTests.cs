using System.Net;
using System.Text.Json;

namespace DataWorkspace.EndToEnd.Tests;

/// <summary>Another system calls the machine API on the portal's public address, with Hawk and no session.</summary>
public sealed class MachineApiThroughProxyTests(PlatformFixture fixture)
{
    private RunningPlatform Platform => fixture.Platform;
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    /// <summary>The AppHost's demo client, whose key a local run keeps with its other secrets.</summary>
    private HawkSigner Demo => new("demo", File.ReadAllText(Path.Combine(Platform.DataDirectory, "secrets", "machine-api-demo-key")).Trim());

    [Fact]
    public async Task A_signed_client_lists_datasets_and_pages_through_rows_without_signing_in()
    {
        using var client = Platform.Client(followRedirects: false);

        var list = await SendAsync(client, Demo.Get(new Uri(Platform.PortalUrl, "/api/machine/v1/datasets")));
        using var rows = JsonDocument.Parse(await (await SendAsync(client,
            Demo.Get(new Uri(Platform.PortalUrl, "/api/machine/v1/datasets/countries-and-territories/tables/countries/rows?pageSize=2")))).Content.ReadAsStringAsync(Cancel));
        var restricted = await client.Http.SendAsync(Demo.Get(new Uri(Platform.PortalUrl, "/api/machine/v1/datasets/exporters-register/tables/exporters/rows")), Cancel);

        Assert.Contains("countries-and-territories", await list.Content.ReadAsStringAsync(Cancel));
        Assert.Equal(2, rows.RootElement.GetProperty("rows").GetArrayLength());
        Assert.Contains("page=2", rows.RootElement.GetProperty("next").GetString());
        Assert.Equal(HttpStatusCode.Forbidden, restricted.StatusCode);
        Assert.Empty(client.Cookies.GetAllCookies());
    }

    [Fact]
    public async Task An_unsigned_call_gets_the_web_apps_hawk_401_not_a_sign_in_redirect()
    {
        using var client = Platform.Client(followRedirects: false);

        var response = await client.Http.GetAsync("/api/machine/v1/datasets", Cancel);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.StartsWith("Hawk", response.Headers.WwwAuthenticate.ToString());
        Assert.Contains("Missing Hawk credentials", await response.Content.ReadAsStringAsync(Cancel));
    }

    [Fact]
    public async Task The_machine_api_document_is_public()
    {
        using var client = Platform.Client(followRedirects: false);

        var response = await client.Http.GetAsync("/api/machine/openapi.json", Cancel);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("/api/machine/v1/datasets/{slug}/tables/{table}/rows", await response.Content.ReadAsStringAsync(Cancel));
    }

    private static async Task<HttpResponseMessage> SendAsync(PortalClient client, HttpRequestMessage request)
    {
        var response = await client.Http.SendAsync(request, Cancel);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{request.RequestUri} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(Cancel)}");
        return response;
    }
}
