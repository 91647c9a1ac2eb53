namespace DataWorkspace.Proxy;

/// <summary>The request's host, as the proxy routes by it, read without allocating (every request asks several times).</summary>
public static class RequestHost
{
    /// <summary>The host name without its port, as <see cref="HostString.Host"/> gives it (IPv6 literals keep their brackets).</summary>
    public static ReadOnlySpan<char> Name(HostString host)
    {
        var value = host.Value.AsSpan();
        if (value.IsEmpty) return value;
        if (value[0] == '[')
        {
            var close = value.IndexOf(']');
            return close < 0 ? value : value[..(close + 1)];
        }

        var colon = value.IndexOf(':');
        return colon < 0 ? value : value[..colon];
    }

    /// <summary>
    /// The single label in front of <paramref name="suffix"/> (".&lt;root domain&gt;") when the host is exactly one label
    /// under the root domain, else empty: <c>jupyterlab-1a2b3c4d</c> for <c>jupyterlab-1a2b3c4d.&lt;root&gt;</c>.
    /// </summary>
    public static ReadOnlySpan<char> LabelUnder(HostString host, string suffix)
    {
        var name = Name(host);
        if (name.Length <= suffix.Length || !name.EndsWith(suffix, StringComparison.OrdinalIgnoreCase)) return default;
        var label = name[..^suffix.Length];
        return label.Contains('.') ? default : label;
    }
}
