using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using DataWorkspace.Contracts;
using DataWorkspace.Web.Audit;
using DataWorkspace.Web.Data;
using DataWorkspace.Web.Identity;
using DataWorkspace.Web.Security;
using Microsoft.EntityFrameworkCore;

namespace DataWorkspace.Web.ApiTokens;

/// <summary>What a new token is to be: a name its owner recognises, how many days it lasts, and what it may do.</summary>
public sealed record NewApiToken(string? Name, int? ExpiresInDays, IReadOnlyList<string>? Scopes);

/// <summary>A token as its owner sees it in the list: never its text. <paramref name="Status"/> is active, expired or revoked.</summary>
public sealed record ApiTokenView(string Id, string Name, IReadOnlyList<string> Scopes, DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt,
    DateTimeOffset? LastUsedAt, DateTimeOffset? RevokedAt, string Status);

/// <summary>A token just made: <paramref name="Token"/> is its text, shown this once and kept nowhere.</summary>
public sealed record CreatedApiToken(string Token, ApiTokenView Details);

/// <summary>A token was not made: <see cref="Field"/> names the input at fault (name, expiresInDays, scopes).</summary>
public sealed class ApiTokenRefusedException(string field, string message) : Exception(message)
{
    public string Field { get; } = field;
}

public static class ApiTokenRules
{
    public const int NameLength = 100;
    public const int DefaultDays = 30;
    public const int MaxDays = 365;
    public const int MaxActivePerUser = 50;

    /// <summary>The lifetimes the page offers; the API takes any number of days from 1 to <see cref="MaxDays"/>.</summary>
    public static readonly IReadOnlyList<int> OfferedDays = [7, 30, 90, 365];

    /// <summary>A script's use is recorded (last used, and the audit log) at most this often per token.</summary>
    public static readonly TimeSpan UseRecordedEvery = TimeSpan.FromMinutes(1);
}

/// <summary>
/// Personal API tokens: made, listed and revoked by their owner (an administrator may revoke anyone's), and checked for
/// the proxy, which sends each script's request on with the owner's identity and the token's scopes. Each is audited.
/// </summary>
public sealed class ApiTokenService(CatalogueDbContext catalogue, AuditLog audit, TimeProvider time) : Users.IDeactivationStep
{
    public async Task<CreatedApiToken> CreateAsync(ClaimsPrincipal user, NewApiToken request, CancellationToken cancellationToken)
    {
        if (user.HasClaim(claim => claim.Type == ApiTokenGrant.Claim))
            throw new ApiTokenRefusedException("token", "A personal API token cannot make tokens: sign in to the portal in a browser and make it there.");
        var name = (request.Name ?? "").Trim();
        if (name.Length == 0) throw new ApiTokenRefusedException("name", "Enter a name for the token, to recognise it by in your list (for example, the script that uses it).");
        if (StorableText.Problem(name, ApiTokenRules.NameLength) is { } nameProblem) throw new ApiTokenRefusedException("name", "The name " + nameProblem);
        var days = request.ExpiresInDays ?? ApiTokenRules.DefaultDays;
        if (days is < 1 or > ApiTokenRules.MaxDays)
            throw new ApiTokenRefusedException("expiresInDays", $"A token lasts from 1 to {ApiTokenRules.MaxDays} days; {days} is not allowed. Choose a number of days in that range.");
        var unknown = (request.Scopes ?? []).Where(scope => !ApiScopes.All.Contains(scope, StringComparer.Ordinal)).ToList();
        if (unknown.Count > 0)
            throw new ApiTokenRefusedException("scopes", $"Unknown scope {string.Join(", ", unknown.Select(scope => $"'{scope}'"))}. Choose from: {string.Join(", ", ApiScopes.All)}.");
        var scopes = ApiScopes.All.Where(scope => request.Scopes?.Contains(scope, StringComparer.Ordinal) == true).ToList();
        if (scopes.Count == 0) throw new ApiTokenRefusedException("scopes", $"Choose at least one scope: what the token may do ({string.Join(", ", ApiScopes.All)}).");

        var userId = user.Id();
        var now = time.GetUtcNow();
        var active = await catalogue.ApiTokens.CountAsync(t => t.UserId == userId && t.RevokedAt == null && t.ExpiresAt > now, cancellationToken);
        if (active >= ApiTokenRules.MaxActivePerUser)
            throw new ApiTokenRefusedException("name", $"You have {active} tokens in use, the most one person may have. Revoke those you no longer need, then make this one.");

        var text = ApiTokenText.New();
        var token = new ApiToken
        {
            Id = text.Id, UserId = userId, Name = name, Scopes = scopes, Hash = text.Hash, CreatedAt = now, ExpiresAt = now.AddDays(days),
        };
        catalogue.ApiTokens.Add(token);
        audit.Add(AuditActions.ApiTokenCreated, Actor.Of(user),
            $"{user.EmailOf()} made the API token '{name}' ({text.Id}) with scopes {string.Join(", ", scopes)}, expiring {token.ExpiresAt:yyyy-MM-dd HH:mm} UTC",
            subjectUserId: userId);
        await catalogue.SaveChangesAsync(cancellationToken);
        return new CreatedApiToken(text.Reveal(), ViewOf(token, now));
    }

    public async Task<IReadOnlyList<ApiTokenView>> ListAsync(string userId, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var tokens = await catalogue.ApiTokens.AsNoTracking().Where(t => t.UserId == userId)
            .OrderByDescending(t => t.RevokedAt == null && t.ExpiresAt > now).ThenByDescending(t => t.CreatedAt).Take(200).ToListAsync(cancellationToken);
        return [.. tokens.Select(token => ViewOf(token, now))];
    }

    /// <summary>Every token in use (neither expired nor revoked), with its owner's email, for administrators; those of one email when given.</summary>
    public async Task<IReadOnlyList<(ApiTokenView Token, string OwnerEmail)>> ListActiveAsync(string? ownerEmail, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var email = ownerEmail?.Trim().ToLowerInvariant();
        var rows = await catalogue.ApiTokens.AsNoTracking().Where(t => t.RevokedAt == null && t.ExpiresAt > now)
            .Join(catalogue.Users, t => t.UserId, u => u.Id, (t, u) => new { Token = t, u.Email })
            .Where(row => string.IsNullOrEmpty(email) || row.Email.ToLower() == email)
            .OrderBy(row => row.Email).ThenByDescending(row => row.Token.CreatedAt).Take(500).ToListAsync(cancellationToken);
        return [.. rows.Select(row => (ViewOf(row.Token, now), row.Email))];
    }

    /// <summary>
    /// Revokes the token <paramref name="id"/> of <paramref name="ownerId"/> (of anyone when null: an administrator).
    /// False when there is no such token; revoking one already revoked changes nothing.
    /// </summary>
    public async Task<bool> RevokeAsync(ClaimsPrincipal by, string id, string? ownerId, CancellationToken cancellationToken)
    {
        var token = await catalogue.ApiTokens.FirstOrDefaultAsync(t => t.Id == id && (ownerId == null || t.UserId == ownerId), cancellationToken);
        if (token is null) return false;
        if (token.RevokedAt is not null) return true;
        token.RevokedAt = time.GetUtcNow();
        token.RevokedBy = by.EmailOf();
        audit.Add(AuditActions.ApiTokenRevoked, Actor.Of(by), $"{by.EmailOf()} revoked the API token '{token.Name}' ({token.Id})", subjectUserId: token.UserId);
        await catalogue.SaveChangesAsync(cancellationToken);
        return true;
    }

    /// <summary>
    /// A deactivation revokes the user's tokens: should the account come back, a token that leaked while it was off must
    /// not come back with it (the user makes new ones).
    /// </summary>
    public async Task EndAsync(string userId, string userEmail, Actor actor, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var live = await catalogue.ApiTokens.Where(t => t.UserId == userId && t.RevokedAt == null && t.ExpiresAt > now).ToListAsync(cancellationToken);
        foreach (var token in live)
        {
            token.RevokedAt = now;
            token.RevokedBy = actor.Email;
            audit.Add(AuditActions.ApiTokenRevoked, actor, $"The API token '{token.Name}' ({token.Id}) of {userEmail} was revoked with the account's deactivation", subjectUserId: userId);
        }

        if (live.Count > 0) await catalogue.SaveChangesAsync(cancellationToken);
    }

    /// <summary>The proxy's question: whose is this token, and may it be used now? A use is recorded at most once a minute.</summary>
    public async Task<ApiTokenVerdict> CheckAsync(ApiTokenCheck check, CancellationToken cancellationToken)
    {
        const string makeOne = "Make a new token on the portal's API tokens page (" + InternalApiTokens.Page + ") and use that.";
        var found = await catalogue.ApiTokens.AsNoTracking().Where(t => t.Id == check.Id)
            .Join(catalogue.Users, t => t.UserId, u => u.Id, (t, u) => new { Token = t, User = u }).FirstOrDefaultAsync(cancellationToken);
        if (found is null || !SameHash(found.Token.Hash, check.Hash))
            return new ApiTokenVerdict(ApiTokenStatus.Unknown, "This API token is not known: it was mistyped, or is not from this Data Workspace. " + makeOne);
        var (token, owner) = (found.Token, found.User);
        if (token.RevokedAt is { } revokedAt)
            return new ApiTokenVerdict(ApiTokenStatus.Revoked, $"This API token ('{token.Name}') was revoked on {revokedAt:d MMMM yyyy HH:mm} UTC. " + makeOne);
        var now = time.GetUtcNow();
        if (token.ExpiresAt <= now)
            return new ApiTokenVerdict(ApiTokenStatus.Expired, $"This API token ('{token.Name}') expired on {token.ExpiresAt:d MMMM yyyy HH:mm} UTC. " + makeOne);
        if (owner.DeactivatedAt is not null)
            return new ApiTokenVerdict(ApiTokenStatus.Deactivated,
                $"The Data Workspace account of {owner.Email} has been deactivated, so its API tokens do not work. If you need it again, ask the Data Workspace administrators to reactivate it.");

        var recordBefore = now - ApiTokenRules.UseRecordedEvery;
        var recorded = await catalogue.ApiTokens.Where(t => t.Id == token.Id && (t.LastUsedAt == null || t.LastUsedAt <= recordBefore))
            .ExecuteUpdateAsync(set => set.SetProperty(t => t.LastUsedAt, now), cancellationToken);
        if (recorded > 0)
        {
            audit.Add(AuditActions.ApiTokenUsed, new Actor(owner.Id, owner.Email, check.ClientIp), $"A script used the API token '{token.Name}' ({token.Id}) of {owner.Email}",
                subjectUserId: owner.Id);
            await catalogue.SaveChangesAsync(cancellationToken);
        }

        return new ApiTokenVerdict(ApiTokenStatus.Valid, "", owner.Id, owner.Email, owner.Name, token.Scopes, token.ExpiresAt);
    }

    private static bool SameHash(string stored, string presented) =>
        CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(stored), Encoding.ASCII.GetBytes(presented ?? ""));

    private static ApiTokenView ViewOf(ApiToken token, DateTimeOffset now) => new(token.Id, token.Name, token.Scopes, token.CreatedAt, token.ExpiresAt,
        token.LastUsedAt, token.RevokedAt, token.RevokedAt is not null ? "revoked" : token.ExpiresAt <= now ? "expired" : "active");
}
