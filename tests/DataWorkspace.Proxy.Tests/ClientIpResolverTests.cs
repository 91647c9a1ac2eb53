using System.Net;
using DataWorkspace.Proxy.ClientAddress;
using Microsoft.Extensions.Primitives;

namespace DataWorkspace.Proxy.Tests;

public sealed class ClientIpResolverTests
{
    private static readonly IPAddress LoadBalancer = IPAddress.Parse("10.0.0.5");

    [Fact]
    public void With_no_trusted_hops_the_peer_is_the_client_and_a_forged_header_is_ignored()
    {
        var result = ClientIpResolver.Resolve(IPAddress.Parse("203.0.113.7"), "198.51.100.1", trustedHops: 0);

        Assert.Equal(IPAddress.Parse("203.0.113.7"), result.Address);
    }

    [Fact]
    public void With_one_trusted_hop_the_address_the_load_balancer_appended_wins_over_client_written_entries()
    {
        // The client wrote "1.2.3.4" itself; the load balancer appended what it saw.
        var result = ClientIpResolver.Resolve(LoadBalancer, "1.2.3.4, 203.0.113.7", trustedHops: 1);

        Assert.Equal(IPAddress.Parse("203.0.113.7"), result.Address);
    }

    [Fact]
    public void With_two_trusted_hops_the_second_address_from_the_right_is_the_client()
    {
        var result = ClientIpResolver.Resolve(LoadBalancer, new StringValues(["9.9.9.9, 203.0.113.7", "10.0.0.9"]), trustedHops: 2);

        Assert.Equal(IPAddress.Parse("203.0.113.7"), result.Address);
    }

    [Fact]
    public void Fewer_entries_than_trusted_hops_is_refused_with_a_reason()
    {
        var result = ClientIpResolver.Resolve(LoadBalancer, "203.0.113.7", trustedHops: 2);

        Assert.Null(result.Address);
        Assert.Contains("2 trusted proxy hop", result.Failure);
    }

    [Fact]
    public void A_missing_header_with_trusted_hops_is_refused()
    {
        var result = ClientIpResolver.Resolve(LoadBalancer, StringValues.Empty, trustedHops: 1);

        Assert.Null(result.Address);
    }

    [Fact]
    public void An_entry_that_is_not_an_address_is_refused_and_named()
    {
        var result = ClientIpResolver.Resolve(LoadBalancer, "<script>", trustedHops: 1);

        Assert.Null(result.Address);
        Assert.Contains("'<script>'", result.Failure);
    }

    [Theory]
    [InlineData("203.0.113.7:51234", "203.0.113.7")]
    [InlineData("[2001:db8::1]:443", "2001:db8::1")]
    [InlineData("2001:db8::1", "2001:db8::1")]
    public void Entries_with_ports_and_ipv6_are_understood(string entry, string expected)
    {
        var result = ClientIpResolver.Resolve(LoadBalancer, entry, trustedHops: 1);

        Assert.Equal(IPAddress.Parse(expected), result.Address);
    }

    [Fact]
    public void An_ipv4_peer_seen_through_an_ipv6_socket_is_reported_as_ipv4()
    {
        var result = ClientIpResolver.Resolve(IPAddress.Parse("::ffff:192.0.2.10"), StringValues.Empty, trustedHops: 0);

        Assert.Equal("192.0.2.10", result.Address!.ToString());
    }
}
