using System.Net;
using Microsoft.Extensions.Primitives;

namespace DataWorkspace.Proxy.ClientAddress;

/// <summary>
/// Works out the client's IP address. Each trusted proxy in front of this one appends the address it saw to
/// X-Forwarded-For, so with N trusted hops the client is the Nth entry from the right; entries further left were
/// written by the client and can be forged, so they are never used. With no trusted hops it is the peer address.
/// </summary>
public static class ClientIpResolver
{
    private static readonly object ItemKey = new();

    /// <summary>The request's client address, worked out once per request (sign-in, session check and entry all ask).</summary>
    public static ClientIpResult For(HttpContext context, int trustedHops)
    {
        if (context.Items.TryGetValue(ItemKey, out var known) && known is ClientIpResult result) return result;
        result = Resolve(context.Connection.RemoteIpAddress, context.Request.Headers["X-Forwarded-For"], trustedHops);
        context.Items[ItemKey] = result;
        return result;
    }

    public static ClientIpResult Resolve(IPAddress? peerAddress, StringValues forwardedFor, int trustedHops)
    {
        if (trustedHops == 0)
        {
            return peerAddress is null
                ? ClientIpResult.Fail("the connection has no peer address")
                : ClientIpResult.Success(Normalise(peerAddress));
        }

        var entries = new List<string>();
        foreach (var value in forwardedFor)
        {
            if (value is null) continue;
            foreach (var part in value.Split(',', StringSplitOptions.TrimEntries))
                entries.Add(part);
        }

        if (entries.Count < trustedHops)
        {
            return ClientIpResult.Fail(
                $"X-Forwarded-For has {entries.Count} address(es) but {trustedHops} trusted proxy hop(s) are configured; the request did not come through the expected load balancer");
        }

        var candidate = entries[^trustedHops];
        return TryParse(candidate, out var address)
            ? ClientIpResult.Success(Normalise(address))
            : ClientIpResult.Fail($"X-Forwarded-For entry '{candidate}' is not an IP address");
    }

    private static bool TryParse(string entry, out IPAddress address)
    {
        if (IPAddress.TryParse(entry, out address!)) return true;
        // Some proxies write "address:port" or "[v6]:port".
        if (IPEndPoint.TryParse(entry, out var endpoint))
        {
            address = endpoint.Address;
            return true;
        }

        return false;
    }

    private static IPAddress Normalise(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
}

public readonly record struct ClientIpResult(IPAddress? Address, string? Failure)
{
    public static ClientIpResult Success(IPAddress address) => new(address, null);
    public static ClientIpResult Fail(string reason) => new(null, reason);
}
