using DataWorkspace.Contracts;
using DataWorkspace.Proxy.SignIn;
using DataWorkspace.Proxy.Tools;
using Microsoft.AspNetCore.Http;

namespace DataWorkspace.Proxy.Tests;

public sealed class ToolRoutingTests
{
    private static readonly PlatformUser Ann = new("ann-sub", "ann@partner.example", "Ann Lee", "Ann", "Lee", []);

    [Theory]
    [InlineData("jupyterlab-1a2b3c4d", "jupyterlab-1a2b3c4d", "jupyterlab", "1a2b3c4d", null)]
    [InlineData("my-app-0000ffff--8050", "my-app-0000ffff", "my-app", "0000ffff", 8050)]
    [InlineData("JupyterLab-1A2B3C4D", "jupyterlab-1a2b3c4d", "jupyterlab", "1a2b3c4d", null)]
    public void A_tool_host_names_the_tool_its_owners_hash_and_a_port(string label, string host, string basename, string hash, int? port)
    {
        var (name, problem) = ToolHostName.Parse(label);
        Assert.Null(problem);
        Assert.Equal(new ToolHostName(host, basename, hash, port), name);
    }

    [Theory]
    [InlineData("trade-dashboard", "trade-dashboard", null)]
    [InlineData("Trade-Dashboard--8050", "trade-dashboard", 8050)]
    [InlineData("jupyterlab-1a2b3c4", "jupyterlab-1a2b3c4", null)]
    public void A_host_without_a_users_hash_is_a_visualisation(string label, string basename, int? port)
    {
        var (name, problem) = ToolHostName.Parse(label);
        Assert.Null(problem);
        Assert.Equal(new ToolHostName(basename, basename, null, port), name);
        Assert.True(name!.IsVisualisation);
    }

    [Theory]
    [InlineData("jupyterlab-1a2b3c4g-", "is not the address of a tool")]
    [InlineData("_jupyterlab", "is not the address of a tool")]
    [InlineData("trade-dashboard--0", "port 0 is outside 1-65535")]
    [InlineData("-1a2b3c4d", "is not the address of a tool")]
    [InlineData("jupyter..lab-1a2b3c4d", "is not the address of a tool")]
    [InlineData("jupyterlab-1a2b3c4d--0", "port 0 is outside 1-65535")]
    [InlineData("jupyterlab-1a2b3c4d--65536", "port 65536 is outside 1-65535")]
    public void Anything_else_is_refused_with_the_reason(string label, string reason)
    {
        var (name, problem) = ToolHostName.Parse(label);
        Assert.Null(name);
        Assert.Contains(reason, problem);
    }

    private static readonly string[] TrustedElsewhere =
    [
        "X-Forwarded-User", "X-Forwarded-Email", "X-Forwarded-Preferred-Username", "X-Forwarded-Groups", "X-Auth-Request-User",
        "X-Auth-Request-Email", "Remote-User", "Remote-Email", "X-Remote-User", "X-Remote-Group", "X-WEBAUTH-USER",
        "X-Authenticated-Userid", "X-Amzn-Oidc-Identity", "X-MS-CLIENT-PRINCIPAL-NAME", "X-Goog-Authenticated-User-Email",
        "Cf-Access-Authenticated-User-Email", "X-Real-IP", "X-RStudio-Username",
    ];

    [Theory]
    [InlineData("X-Forwarded-User", true)]
    [InlineData("x_auth_request_email", true)]
    [InlineData("REMOTE-USER", true)]
    [InlineData("X-Custom", false)]
    [InlineData("Remotely", false)]
    [InlineData("X-Users-Choice", false)]
    public void Identity_and_address_headers_of_other_proxies_are_reserved_in_any_spelling(string name, bool reserved) =>
        Assert.Equal(reserved, DataWorkspace.Proxy.Forwarding.ClientClaims.IsReserved(name));

    [Fact]
    public async Task The_tool_gets_the_proxys_identity_headers_never_the_clients_nor_the_session()
    {
        var context = new DefaultHttpContext();
        foreach (var header in IdentityHeaders.All) context.Request.Headers[header] = "forged";
        // The same names with underscores, which WSGI servers (Flask, Dash) read as the proxy's own headers.
        context.Request.Headers["sso_profile_email"] = "forged";
        context.Request.Headers["X_DataWorkspace_User_Id"] = "forged";
        context.Request.Headers["x_forwarded_for"] = "forged";
        context.Request.Headers["my_own_header"] = "kept";
        // Headers other proxies set and tools can be configured to trust for identity or the client's address.
        foreach (var header in TrustedElsewhere) context.Request.Headers[header] = "forged";
        context.Request.Headers["X_Forwarded_User"] = "forged";
        context.Request.Headers["remote_user"] = "forged";
        context.Request.Headers["X-Remote-Users-Note"] = "forged";
        context.Request.Headers["X-Forwarded-Userinfo"] = "forged";
        context.Request.Headers["Remotely"] = "kept";
        context.Request.Headers.Cookie = "dw_session=secret; _xsrf=abc";
        context.Request.Host = new HostString("files-1a2b3c4d.dataworkspace.localhost", 8000);
        var request = new HttpRequestMessage(HttpMethod.Get, "http://127.0.0.1:41234/");

        await new ToolTransformer(Ann, "203.0.113.7", "dataworkspace.localhost").TransformRequestAsync(context, request, "http://127.0.0.1:41234", CancellationToken.None);

        Assert.Equal(["ann@partner.example"], request.Headers.GetValues(IdentityHeaders.UserEmail));
        Assert.Equal(["ann-sub"], request.Headers.GetValues(IdentityHeaders.SsoUserId));
        Assert.Equal(["Lee"], request.Headers.GetValues(IdentityHeaders.SsoLastName));
        Assert.False(request.Headers.Contains(IdentityHeaders.SignedIdentity));
        Assert.DoesNotContain("forged", request.Headers.SelectMany(header => header.Value));
        Assert.Equal(["kept"], request.Headers.GetValues("my_own_header"));
        Assert.Equal(["kept"], request.Headers.GetValues("Remotely"));
        Assert.Equal("_xsrf=abc", string.Join("; ", request.Headers.GetValues("Cookie")));
        Assert.Null(request.Headers.Host);
    }

    [Fact]
    public async Task A_tool_cannot_set_cookies_for_the_root_domain_another_host_or_the_session()
    {
        var context = new DefaultHttpContext();
        context.Request.Host = new HostString("files-1a2b3c4d.dataworkspace.localhost", 8000);
        context.Response.Headers.SetCookie = new Microsoft.Extensions.Primitives.StringValues(
        [
            "_xsrf=1; Path=/",
            "own=2; Domain=files-1a2b3c4d.dataworkspace.localhost; Path=/",
            "root=3; Domain=.dataworkspace.localhost; Path=/",
            "other=4; Domain=rstudio-1a2b3c4d.dataworkspace.localhost",
            "dw_session=forged; Path=/",
        ]);

        await new ToolTransformer(Ann, "203.0.113.7", "dataworkspace.localhost").TransformResponseAsync(context, null, CancellationToken.None);

        Assert.Equal(["_xsrf=1; Path=/", "own=2; Domain=files-1a2b3c4d.dataworkspace.localhost; Path=/"], context.Response.Headers.SetCookie.ToArray());
    }
}
