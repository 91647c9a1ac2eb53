using DataWorkspace.Proxy.SignIn;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace DataWorkspace.Proxy.Tests;

/// <summary>
/// The tool hosts' quick sign-in only trusts a session cookie it can read unambiguously; everything else goes through
/// the cookie handler (see the end-to-end tests for what a user sees).
/// </summary>
public sealed class ToolSignInTests
{
    [Theory]
    [InlineData("dw_session=CfDJ8abc-_x", "CfDJ8abc-_x")]
    [InlineData("theme=dark; dw_session=CfDJ8abc ;lang=en", "CfDJ8abc")]
    [InlineData("dw_session_other=1; dw_session=k", "k")]
    public void The_session_cookie_is_read_when_the_request_carries_it_once_plainly(string header, string expected) =>
        Assert.Equal(expected, ToolSignIn.OnlyCookie(new StringValues(header), "dw_session"));

    [Theory]
    [InlineData("theme=dark")]
    [InlineData("dw_session=a; dw_session=b")]
    [InlineData("dw_session=a; DW_SESSION=b")]
    [InlineData("dw_session=chunks-2; dw_sessionC1=a; dw_sessionC2=b")]
    [InlineData("dw_session=\"quoted\"")]
    [InlineData("dw_session=abc%3D")]
    [InlineData("dw_session=")]
    [InlineData("dw_session =abc")]
    [InlineData("dw_session= abc")]
    [InlineData("theme=dark, dw_session=abc")]
    public void Anything_else_is_left_to_the_cookie_handler(string header) =>
        Assert.Null(ToolSignIn.OnlyCookie(new StringValues(header), "dw_session"));

    [Fact]
    public void The_cookie_twice_across_two_cookie_headers_is_also_left_to_the_cookie_handler() =>
        Assert.Null(ToolSignIn.OnlyCookie(new StringValues(["dw_session=a", "dw_session=b"]), "dw_session"));

    [Theory]
    [InlineData("jupyterlab-1a2b3c4d.dataworkspace.localhost:8000", "jupyterlab-1a2b3c4d")]
    [InlineData("Trade-Dashboard.DataWorkspace.localhost", "Trade-Dashboard")]
    [InlineData("dataworkspace.localhost:8000", "")]
    [InlineData("a.b.dataworkspace.localhost", "")]
    [InlineData("evil-dataworkspace.localhost", "")]
    [InlineData("[::1]:8000", "")]
    [InlineData("", "")]
    public void A_tool_host_is_exactly_one_label_under_the_root_domain(string host, string label) =>
        Assert.Equal(label, RequestHost.LabelUnder(new HostString(host), ".dataworkspace.localhost").ToString());

    [Theory]
    [InlineData("dataworkspace.localhost:8000", "dataworkspace.localhost")]
    [InlineData("dataworkspace.localhost", "dataworkspace.localhost")]
    [InlineData("[::1]:8000", "[::1]")]
    public void The_host_name_is_the_host_without_its_port(string host, string name)
    {
        Assert.Equal(name, RequestHost.Name(new HostString(host)).ToString());
        Assert.Equal(new HostString(host).Host, RequestHost.Name(new HostString(host)).ToString());
    }
}
