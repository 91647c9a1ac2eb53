using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Caching.Memory;

namespace DataWorkspace.Proxy.SignIn;

/// <summary>
/// The session cookie's ticket, decrypted once per cookie value rather than on every request: every request to the
/// portal and to each tool carries the same cookie, and decrypting and deserialising it is dear next to forwarding.
/// A cached entry is the decryption of exactly that cookie value, kept no longer than the ticket's own expiry and at
/// most <see cref="MaxAge"/>; callers get a copy, so nothing they change leaks into the next request.
/// </summary>
public sealed class CachedTicketFormat(ISecureDataFormat<AuthenticationTicket> inner, TimeProvider time) : ISecureDataFormat<AuthenticationTicket>
{
    public static readonly TimeSpan MaxAge = TimeSpan.FromMinutes(10);
    private const int MaxEntries = 20_000;

    private readonly MemoryCache cache = new(new MemoryCacheOptions { SizeLimit = MaxEntries });

    public string Protect(AuthenticationTicket data) => inner.Protect(data);

    public string Protect(AuthenticationTicket data, string? purpose) => inner.Protect(data, purpose);

    public AuthenticationTicket? Unprotect(string? protectedText) => Unprotect(protectedText, null);

    public AuthenticationTicket? Unprotect(string? protectedText, string? purpose)
    {
        if (string.IsNullOrEmpty(protectedText)) return null;
        var key = Key(protectedText, purpose);
        if (cache.TryGetValue(key, out AuthenticationTicket? cached)) return Copy(cached!);

        var ticket = inner.Unprotect(protectedText, purpose);
        if (ticket is null) return null;
        var now = time.GetUtcNow();
        var until = now + MaxAge;
        if (ticket.Properties.ExpiresUtc is { } expires && expires < until) until = expires;
        if (until > now)
            cache.Set(key, Copy(ticket), new MemoryCacheEntryOptions { Size = 1, AbsoluteExpiration = until });
        return ticket;
    }

    /// <summary>
    /// The ticket of a cookie value this format has already decrypted, shared rather than copied, or null when it has
    /// not (or no longer): for callers that only read it. Only a value that decrypted earlier can be found here.
    /// </summary>
    public AuthenticationTicket? Peek(string protectedText) =>
        cache.TryGetValue(Key(protectedText, null), out AuthenticationTicket? cached) ? cached : null;

    // The cookie handler gives no purpose: the value alone is then the key, with nothing to box per request.
    private static object Key(string protectedText, string? purpose) => purpose is null ? protectedText : (protectedText, purpose);

    private static AuthenticationTicket Copy(AuthenticationTicket ticket) =>
        new(ticket.Principal.Clone(), ticket.Properties.Clone(), ticket.AuthenticationScheme);
}
