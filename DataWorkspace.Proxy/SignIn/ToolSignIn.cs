using System.Net;
using DataWorkspace.Proxy.ClientAddress;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace DataWorkspace.Proxy.SignIn;

/// <summary>
/// Who is signed in, for a request to a tool host. Most of the proxy's traffic is a signed-in user's tool asking for
/// one resource after another with the same session cookie; running each through ASP.NET Core's authentication
/// (handlers made per request, the sign-in flow's callback check, two ticket copies) would cost more than forwarding
/// the request. So a request whose cookie this replica decrypted before, for a session it read less than
/// <see cref="SessionStore.CacheFor"/> ago, from the IP group the session was signed in from, is answered from those
/// caches. Anything else (no cookie or an unknown one, a session to refresh or expired, another IP group, a cookie
/// that appears twice or in chunks) goes through the cookie handler as before, which decides, and ends sessions
/// (another IP group signs the user out).
/// Tool hosts never run the sign-in flow's handlers: its callbacks are on the portal's host, so a tool's own
/// <c>/auth/callback</c> is the tool's.
/// </summary>
public sealed class ToolSignIn(IOptionsMonitor<CookieAuthenticationOptions> cookies, SessionStore sessions, IpPolicy ipPolicy)
{
    /// <summary>The claim in which ASP.NET Core's cookie handler keeps the session's key when tickets live in a store.</summary>
    private const string SessionIdClaim = "Microsoft.AspNetCore.Authentication.Cookies-SessionId";

    /// <summary>
    /// The signed-in user, or null when nobody is (the caller asks them to sign in). <c>HttpContext.User</c> is not set
    /// on tool hosts, on either path: the tool entry works with the user returned here.
    /// </summary>
    public async ValueTask<PlatformUser?> UserAsync(HttpContext context, IPAddress clientAddress)
    {
        if (FromRecentSession(context, clientAddress) is { } user) return user;
        var result = await context.AuthenticateAsync(CookieAuthenticationDefaults.AuthenticationScheme);
        return result.Succeeded ? result.Principal.ToPlatformUser() : null;
    }

    private PlatformUser? FromRecentSession(HttpContext context, IPAddress clientAddress)
    {
        var options = cookies.Get(CookieAuthenticationDefaults.AuthenticationScheme);
        if (options.TicketDataFormat is not CachedTicketFormat format) return null;
        if (OnlyCookie(context.Request.Headers.Cookie, options.Cookie.Name!) is not { } value) return null;
        if (format.Peek(value)?.Principal.FindFirst(SessionIdClaim)?.Value is not { } key) return null;
        if (sessions.Recent(key) is not { User: { } user, IpGroup: { } group }) return null;
        // The cookie handler's own check of the IP group (see SignInExtensions), which also ends the session on a change.
        return group == ipPolicy.GroupOf(clientAddress) ? user : null;
    }

    /// <summary>
    /// The value of the cookie <paramref name="name"/> when the request carries it exactly once, plainly (not quoted,
    /// escaped or in chunks); otherwise null, and the cookie handler reads the cookies its own way.
    /// </summary>
    internal static string? OnlyCookie(StringValues headers, string name)
    {
        string? found = null;
        foreach (var header in headers)
        {
            // ASP.NET Core's parser also splits on commas: such a header is left to it.
            if (header is null || header.Contains(',')) return null;
            foreach (var pair in new Forwarding.CookiePairs(header))
            {
                var equals = pair.IndexOf('=');
                if (equals < 0 || !pair[..equals].Trim().Equals(name, StringComparison.OrdinalIgnoreCase)) continue;
                var value = pair[(equals + 1)..];
                // Space around '=' (which ASP.NET Core's parser does not take), a second one, quotes, escapes, chunks.
                if (found is not null || equals != name.Length || value.IsEmpty || value.IndexOfAny(" \t\"%") >= 0 || value.StartsWith("chunks-", StringComparison.Ordinal)) return null;
                found = SameAsLast(value);
            }
        }

        return found;
    }

    // A connection's requests carry the same cookie, and a thread serves a few connections in turn: the string made
    // for the last value is reused while the value stays the same.
    [ThreadStatic] private static string? lastValue;

    private static string SameAsLast(ReadOnlySpan<char> value)
    {
        if (lastValue is { } last && value.SequenceEqual(last)) return last;
        return lastValue = value.ToString();
    }
}
