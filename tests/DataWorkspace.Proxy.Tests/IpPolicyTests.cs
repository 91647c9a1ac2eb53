using System.ComponentModel.DataAnnotations;
using System.Net;
using DataWorkspace.Proxy.ClientAddress;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace DataWorkspace.Proxy.Tests;

public sealed class IpPolicyTests
{
    private static ProxyOptions Settings(Dictionary<string, List<string>> groups, params string[] allowList) => new()
    {
        RootDomain = "dataworkspace.test", WebUrl = "http://web", IpGroups = groups, IpAllowList = [.. allowList],
    };

    private static readonly Dictionary<string, List<string>> Groups = new()
    {
        ["office"] = ["203.0.113.0/24", "2001:db8:1::/48"],
        ["vpn"] = ["10.8.0.0/16"],
        ["contractors"] = ["198.51.100.0/24"],
    };

    [Fact]
    public void Groups_and_ranges_on_the_allow_list_are_allowed_and_nothing_else()
    {
        var policy = new IpPolicy(Options.Create(Settings(Groups, "office, vpn", "192.0.2.7/32")));

        Assert.True(policy.IsAllowed(IPAddress.Parse("203.0.113.200")));
        Assert.True(policy.IsAllowed(IPAddress.Parse("2001:db8:1:ff::9")));
        Assert.True(policy.IsAllowed(IPAddress.Parse("10.8.44.1")));
        Assert.True(policy.IsAllowed(IPAddress.Parse("192.0.2.7")));
        Assert.False(policy.IsAllowed(IPAddress.Parse("192.0.2.8")));
        // A named group that is not on the allow list allows nothing.
        Assert.False(policy.IsAllowed(IPAddress.Parse("198.51.100.1")));
        Assert.False(policy.IsAllowed(IPAddress.Parse("2001:db8:2::1")));
    }

    [Fact]
    public void An_address_belongs_to_the_first_group_that_holds_it_and_to_none_outside_them()
    {
        var policy = new IpPolicy(Options.Create(Settings(Groups, "office")));

        Assert.Equal("office", policy.GroupOf(IPAddress.Parse("203.0.113.1")));
        Assert.Equal("contractors", policy.GroupOf(IPAddress.Parse("198.51.100.1")));
        Assert.Equal("", policy.GroupOf(IPAddress.Parse("8.8.8.8")));
    }

    [Fact]
    public void With_no_allow_list_every_address_is_refused_and_the_page_says_why()
    {
        var policy = new IpPolicy(Options.Create(Settings(Groups)));

        Assert.False(policy.IsConfigured);
        Assert.False(policy.IsAllowed(IPAddress.Loopback));
        Assert.Contains("Proxy:IpAllowList", policy.Refusal(IPAddress.Loopback, "Tools"));
    }

    [Fact]
    public void The_explorer_and_file_paths_are_guarded_and_the_catalogue_is_not()
    {
        var policy = new IpPolicy(Options.Create(Settings(Groups, "office")));

        Assert.True(policy.IsRestricted("/data-explorer"));
        Assert.True(policy.IsRestricted("/API/v1/explorer/run"));
        Assert.True(policy.IsRestricted("/files/reports"));
        Assert.False(policy.IsRestricted("/datasets"));
        Assert.False(policy.IsRestricted("/data-explorer-notes"));
    }

    [Fact]
    public void A_client_behind_the_load_balancer_cannot_claim_an_allowed_address_in_x_forwarded_for()
    {
        var policy = new IpPolicy(Options.Create(Settings(Groups, "office")));
        // The client wrote 203.0.113.9 (office) itself; the load balancer appended the address it really came from.
        var client = ClientIpResolver.Resolve(IPAddress.Parse("10.0.0.5"), "203.0.113.9, 192.0.2.50", trustedHops: 1);

        Assert.Equal(IPAddress.Parse("192.0.2.50"), client.Address);
        Assert.False(policy.IsAllowed(client.Address!));
    }

    [Fact]
    public void Ranges_that_do_not_parse_and_unknown_group_names_stop_the_proxy_at_start_with_what_to_fix()
    {
        var settings = Settings(new() { ["office"] = ["203.0.113.0/33"] }, "offfice", "10.0.0.0/8");
        var problems = new List<ValidationResult>();

        Assert.False(Validator.TryValidateObject(settings, new ValidationContext(settings), problems, validateAllProperties: true));
        Assert.Contains(problems, p => p.ErrorMessage!.Contains("'203.0.113.0/33' is not a CIDR range"));
        Assert.Contains(problems, p => p.ErrorMessage!.Contains("'offfice' is neither a CIDR range") && p.ErrorMessage.Contains("office"));
        Assert.DoesNotContain(problems, p => p.ErrorMessage!.Contains("10.0.0.0/8"));
    }
}
