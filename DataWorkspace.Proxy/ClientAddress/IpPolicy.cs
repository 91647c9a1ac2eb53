using System.Net;
using Microsoft.Extensions.Options;

namespace DataWorkspace.Proxy.ClientAddress;

/// <summary>
/// Where clients may reach tools, visualisations, the Data Explorer and file APIs from: the allow list's CIDR ranges
/// and named groups (<c>Proxy:IpAllowList</c>, <c>Proxy:IpGroups</c>). A client's IP group (the first named group
/// that holds its address) is bound into the session at sign-in; a request from another group must sign in again.
/// </summary>
public sealed class IpPolicy
{
    /// <summary>The session claim naming the client's IP group at sign-in ("" when in none).</summary>
    public const string GroupClaim = "dw_ip_group";

    private readonly (string Name, IPNetwork[] Ranges)[] groups;
    private readonly IPNetwork[] allowed;
    private readonly string[] restrictedPaths;

    public IpPolicy(IOptions<ProxyOptions> options)
    {
        var settings = options.Value;
        groups = [.. settings.IpGroups.OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => (g.Key, Entries(g.Value).Select(IPNetwork.Parse).ToArray()))];
        allowed = [.. Entries(settings.IpAllowList).SelectMany(entry =>
            groups.FirstOrDefault(g => g.Name == entry).Ranges ?? [IPNetwork.Parse(entry)])];
        restrictedPaths = [.. settings.IpRestrictedPaths];
    }

    public bool IsConfigured => allowed.Length > 0;

    public bool IsAllowed(IPAddress address)
    {
        foreach (var range in allowed)
            if (range.Contains(address)) return true;
        return false;
    }

    /// <summary>The first named group (in name order) that holds <paramref name="address"/>, or "" for none.</summary>
    public string GroupOf(IPAddress address)
    {
        foreach (var (name, ranges) in groups)
            foreach (var range in ranges)
                if (range.Contains(address)) return name;
        return "";
    }

    /// <summary>Portal paths only allowed addresses reach (the Data Explorer, file APIs); the catalogue is not one.</summary>
    public bool IsRestricted(PathString path)
    {
        foreach (var prefix in restrictedPaths)
            if (path.StartsWithSegments(prefix, StringComparison.OrdinalIgnoreCase)) return true;
        return false;
    }

    /// <summary>Why <paramref name="address"/> is refused, in words for the 403 page.</summary>
    public string Refusal(IPAddress address, string what) => IsConfigured
        ? $"{what} can only be reached from the networks this platform allows, and your address ({address}) is not one of them. Connect through your organisation's network or VPN and try again; if you should have access from where you are, ask the platform team."
        : $"{what} can only be reached from allowed networks, and this platform has none configured yet (Proxy:IpAllowList), so every address is refused. Ask the platform team.";

    /// <summary>Entries may also be comma-separated within one value (handy in a single environment variable).</summary>
    internal static IEnumerable<string> Entries(IEnumerable<string> values) =>
        values.SelectMany(value => value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries));

    /// <summary>Configuration problems, for start-up validation: ranges that do not parse, names that are no group.</summary>
    internal static IEnumerable<string> Problems(ProxyOptions settings)
    {
        foreach (var (name, ranges) in settings.IpGroups)
            foreach (var range in Entries(ranges))
                if (!IPNetwork.TryParse(range, out _))
                    yield return $"Proxy:IpGroups:{name}: '{range}' is not a CIDR range (like 203.0.113.0/24 or 2001:db8::/32).";
        foreach (var entry in Entries(settings.IpAllowList))
            if (!settings.IpGroups.ContainsKey(entry) && !IPNetwork.TryParse(entry, out _))
                yield return $"Proxy:IpAllowList: '{entry}' is neither a CIDR range (like 203.0.113.0/24) nor a group named in Proxy:IpGroups ({(settings.IpGroups.Count == 0 ? "none are" : string.Join(", ", settings.IpGroups.Keys))}).";
    }
}
