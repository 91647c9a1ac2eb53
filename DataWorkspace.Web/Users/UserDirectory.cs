using System.Security.Claims;
using DataWorkspace.Web.Data;
using DataWorkspace.Web.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Caching.Memory;

namespace DataWorkspace.Web.Users;

/// <summary>Records each user on first sight (and refreshes email and name when the identity provider changes them).</summary>
public sealed class UserDirectory(CatalogueDbContext catalogue, IMemoryCache recentlySeen, TimeProvider time)
{
    private static readonly TimeSpan RememberFor = TimeSpan.FromMinutes(5);

    public async Task RecordAsync(ClaimsPrincipal principal, CancellationToken cancellationToken)
    {
        var id = principal.Id();
        var email = principal.EmailOf();
        var name = principal.DisplayName();
        var key = (nameof(UserDirectory), id, email, name);
        if (recentlySeen.TryGetValue(key, out _)) return;

        var now = time.GetUtcNow();
        await catalogue.Database.ExecuteSqlInterpolatedAsync($"""
            INSERT INTO users (id, email, name, first_seen_at, last_seen_at)
            VALUES ({id}, {email}, {name}, {now}, {now})
            ON CONFLICT (id) DO UPDATE SET email = EXCLUDED.email, name = EXCLUDED.name, last_seen_at = EXCLUDED.last_seen_at
            """, cancellationToken);
        recentlySeen.Set(key, true, RememberFor);
    }
}
