using DataWorkspace.Contracts;
using DataWorkspace.Proxy.Forwarding;
using Microsoft.AspNetCore.Http;

namespace DataWorkspace.Proxy.Tests;

public sealed class PortalTransformerTests
{
    [Fact]
    public async Task Client_sent_identity_headers_are_replaced_by_the_signed_identity_alone()
    {
        var context = new DefaultHttpContext();
        foreach (var header in IdentityHeaders.All) context.Request.Headers[header] = "forged";
        context.Request.Headers.Accept = "text/html";
        var request = new HttpRequestMessage(HttpMethod.Get, "http://web/");

        await new PortalTransformer("v1.signed.mac", "203.0.113.7").TransformRequestAsync(context, request, "http://web", CancellationToken.None);

        Assert.Equal(["v1.signed.mac"], request.Headers.GetValues(IdentityHeaders.SignedIdentity));
        foreach (var header in IdentityHeaders.All.Except([IdentityHeaders.SignedIdentity]))
            Assert.False(request.Headers.Contains(header), $"{header} was forwarded");
        Assert.Equal("text/html", request.Headers.Accept.ToString());
    }

    [Fact]
    public async Task The_session_and_sign_in_cookies_stay_in_the_proxy_and_other_cookies_pass()
    {
        var context = new DefaultHttpContext();
        context.Request.Headers.Cookie = "dw_session=chunks:2; dw_sessionC1=abc; dw_sessionC2=def; .AspNetCore.Correlation.x=N; .AspNetCore.Antiforgery.web=token; DW_SESSION=xyz; theme=dark";
        var request = new HttpRequestMessage(HttpMethod.Get, "http://web/");

        await new PortalTransformer("v1.a.b", "203.0.113.7").TransformRequestAsync(context, request, "http://web", CancellationToken.None);

        Assert.Equal(".AspNetCore.Antiforgery.web=token; theme=dark", string.Join("; ", request.Headers.GetValues("Cookie")));
    }

    [Fact]
    public async Task Forwarded_headers_say_what_the_proxy_resolved_not_what_the_client_claimed()
    {
        var context = new DefaultHttpContext();
        context.Request.Scheme = "http";
        context.Request.Host = new HostString("dataworkspace.localhost", 8000);
        context.Request.Headers["X-Forwarded-For"] = "6.6.6.6";
        context.Request.Headers["X-Forwarded-Host"] = "evil.example";
        var request = new HttpRequestMessage(HttpMethod.Get, "http://web/");

        await new PortalTransformer("v1.a.b", "203.0.113.7").TransformRequestAsync(context, request, "http://web", CancellationToken.None);

        Assert.Equal(["203.0.113.7"], request.Headers.GetValues("X-Forwarded-For"));
        Assert.Equal(["dataworkspace.localhost:8000"], request.Headers.GetValues("X-Forwarded-Host"));
    }

    [Fact]
    public async Task A_machine_api_request_gets_no_identity_and_still_loses_forged_headers_and_platform_cookies()
    {
        var context = new DefaultHttpContext();
        context.Request.Host = new HostString("dataworkspace.localhost", 8000);
        foreach (var header in IdentityHeaders.All) context.Request.Headers[header] = "forged";
        context.Request.Headers.Authorization = "Hawk id=\"robot\", ts=\"1\", nonce=\"n\", mac=\"m\"";
        context.Request.Headers.Cookie = "dw_session=abc; theme=dark";
        var request = new HttpRequestMessage(HttpMethod.Get, "http://web/api/machine/v1/datasets");

        await new PortalTransformer(null, "203.0.113.7").TransformRequestAsync(context, request, "http://web", CancellationToken.None);

        foreach (var header in IdentityHeaders.All)
            Assert.False(request.Headers.Contains(header), $"{header} was forwarded");
        Assert.Equal("theme=dark", string.Join("; ", request.Headers.GetValues("Cookie")));
        Assert.Equal(["dataworkspace.localhost:8000"], request.Headers.GetValues("X-Forwarded-Host"));
        Assert.StartsWith("Hawk ", request.Headers.GetValues("Authorization").Single());
    }

    [Theory]
    [InlineData("/api/machine/v1/datasets", true)]
    [InlineData("/api/machine/openapi.json", true)]
    [InlineData("/API/Machine/v1/datasets", true)]
    [InlineData("/api/machinery", false)]
    [InlineData("/api/v1/datasets", false)]
    [InlineData("/", false)]
    public void Only_the_machine_api_paths_skip_the_session(string path, bool machine)
    {
        Assert.Equal(machine, PortalEntry.IsMachineApi(path));
    }
}
