using System.Linq.Expressions;
using DataWorkspace.Web.Data;
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
public sealed class DatasetAccess(CatalogueDbContext catalogue, NpgsqlDataSource dataSource, TimeProvider time)
{
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

    /// <summary>The restricted datasets the reader holds an unexpired permission for (one query, for deciding many datasets in memory).</summary>
    public async Task<HashSet<Guid>> PermittedDatasetIdsAsync(Reader reader, CancellationToken cancellationToken)
    {
        // Plain SQL: this runs on every catalogue search, where EF's per-query overhead showed in the benchmark.
        // The condition is DatasetPermissions.ActiveAt's.
        await using var command = dataSource.CreateCommand(
            "SELECT dataset_id FROM dataset_permissions WHERE user_id = $1 AND ended_at IS NULL AND (expires_at IS NULL OR expires_at > $2)");
        command.Parameters.Add(new NpgsqlParameter { Value = reader.UserId });
        command.Parameters.Add(new NpgsqlParameter { Value = time.GetUtcNow() });
        var ids = new HashSet<Guid>();
        await using var rows = await command.ExecuteReaderAsync(cancellationToken);
        while (await rows.ReadAsync(cancellationToken)) ids.Add(rows.GetGuid(0));
        return ids;
    }

    /// <summary>The same rule as <see cref="ReadableBy"/>, for datasets already in memory.</summary>
    public static bool CanRead(AccessType accessType, IReadOnlyList<string> authorizedEmailDomains, Guid datasetId, Reader reader, IReadOnlySet<Guid> permittedDatasetIds) =>
        accessType != AccessType.RequiresAuthorization
        || authorizedEmailDomains.Contains(reader.EmailDomain)
        || permittedDatasetIds.Contains(datasetId);

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
