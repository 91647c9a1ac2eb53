using System.Linq.Expressions;
using System.Security.Claims;
using DataWorkspace.Web.Data;
using DataWorkspace.Web.Identity;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace DataWorkspace.Web.Catalogue;

/// <summary>Who is asking: the signed-in user's id and email (the email's domain can grant access).</summary>
public sealed record Reader(string UserId, string Email)
{
    public string EmailDomain { get; } = Email.Contains('@') ? Email[(Email.LastIndexOf('@') + 1)..].ToLowerInvariant() : "";
}

public enum AccessStatus
{
    /// <summary>Open or authentication-only: every signed-in user may read it.</summary>
    Everyone,
    ByEmailDomain,
    ByPermission,
    Expired,

    /// <summary>The reader's access was taken away by an approver or an admin.</summary>
    Revoked,
    None,
}

public sealed record DatasetAccessDecision(AccessStatus Status, DateTimeOffset? ExpiresAt)
{
    public bool CanRead => Status is AccessStatus.Everyone or AccessStatus.ByEmailDomain or AccessStatus.ByPermission;
}

/// <summary>The catalogue's access rule, in one place: used to filter lists in SQL and to decide for one dataset.</summary>
public sealed class DatasetAccess(CatalogueDbContext catalogue, TimeProvider time)
{
    /// <summary>Whether the user decides who may read the dataset: an admin, or one of its approvers.</summary>
    public static bool IsApprover(Dataset dataset, ClaimsPrincipal user) =>
        user.IsAdmin() || dataset.Approvers.Contains(user.EmailOf(), StringComparer.OrdinalIgnoreCase);

    public Expression<Func<Dataset, bool>> ReadableBy(Reader reader)
    {
        var now = time.GetUtcNow();
        var userId = reader.UserId;
        var domain = reader.EmailDomain;
        var permissions = catalogue.Permissions.ActiveAt(now);
        return dataset => dataset.AccessType != AccessType.RequiresAuthorization
            || dataset.AuthorizedEmailDomains.Contains(domain)
            || permissions.Any(p => p.DatasetId == dataset.Id && p.UserId == userId);
    }

    public async Task<DatasetAccessDecision> DecideAsync(Dataset dataset, Reader reader, CancellationToken cancellationToken)
    {
        if (dataset.AccessType != AccessType.RequiresAuthorization) return new(AccessStatus.Everyone, null);
        if (dataset.AuthorizedEmailDomains.Contains(reader.EmailDomain, StringComparer.OrdinalIgnoreCase)) return new(AccessStatus.ByEmailDomain, null);

        var now = time.GetUtcNow();
        var permissions = await catalogue.Permissions.AsNoTracking()
            .Where(p => p.DatasetId == dataset.Id && p.UserId == reader.UserId)
            .ToListAsync(cancellationToken);
        var active = permissions.Where(p => p.IsActiveAt(now)).ToList();
        if (active.Count > 0)
            return new(AccessStatus.ByPermission, active.Any(p => p.ExpiresAt is null) ? null : active.Max(p => p.ExpiresAt));

        // No access now: say how the most recent access ended, if there was one.
        var last = permissions.OrderByDescending(p => p.GrantedAt).FirstOrDefault();
        return last switch
        {
            null => new(AccessStatus.None, null),
            { EndReason: PermissionEnd.Revoked } => new(AccessStatus.Revoked, last.EndedAt),
            _ => new(AccessStatus.Expired, last.ExpiresAt),
        };
    }
}
