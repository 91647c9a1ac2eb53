using NpgsqlTypes;

namespace DataWorkspace.Web.Catalogue;

public enum DatasetType
{
    SourceDataset,
    DataCut,
    ReferenceDataset,
    Visualisation,
}

public enum AccessType
{
    /// <summary>Anyone signed in may read it, with no further step.</summary>
    Open,

    /// <summary>Anyone signed in may read it once they have accepted its terms (the original's REQUIRES_AUTHENTICATION).</summary>
    RequiresAuthentication,

    /// <summary>Only named users, users of listed email domains, or users whose access request was approved.</summary>
    RequiresAuthorization,
}

public enum SecurityClassification
{
    Official,
    OfficialSensitive,
}

/// <summary>An entry in the catalogue: what the data is, who looks after it, and who may read it.</summary>
public sealed class Dataset
{
    public Guid Id { get; set; } = Guid.NewGuid();
    public DatasetType Type { get; set; }
    public required string Name { get; set; }
    public required string Slug { get; set; }
    public string ShortDescription { get; set; } = "";

    /// <summary>Markdown; rendered with raw HTML escaped.</summary>
    public string Description { get; set; } = "";

    public string Publisher { get; set; } = "";
    public string Licence { get; set; } = "";
    public string Retention { get; set; } = "";
    public SecurityClassification Classification { get; set; }
    public string InformationAssetOwner { get; set; } = "";
    public string InformationAssetManager { get; set; } = "";

    /// <summary>Emails of the users who may edit this entry and approve access to it (besides owner and manager).</summary>
    public List<string> Editors { get; set; } = [];

    public AccessType AccessType { get; set; }

    /// <summary>For <see cref="AccessType.RequiresAuthorization"/>: users of these email domains may read it without asking.</summary>
    public List<string> AuthorizedEmailDomains { get; set; } = [];

    /// <summary>Statements a requester confirms they meet before asking for access.</summary>
    public List<string> EligibilityCriteria { get; set; } = [];

    public bool Published { get; set; }
    public DateTimeOffset? PublishedAt { get; set; }
    public DateTimeOffset? DeletedAt { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }

    public NpgsqlTsVector SearchVector { get; set; } = null!;

    public List<Tag> Tags { get; set; } = [];
    public List<SourceTable> Tables { get; set; } = [];
    public List<SourceLink> Links { get; set; } = [];
    public List<CustomQuery> Queries { get; set; } = [];

    /// <summary>The people who may approve access requests and revoke access.</summary>
    public IEnumerable<string> Approvers =>
        new[] { InformationAssetOwner, InformationAssetManager }.Concat(Editors).Where(email => email.Length > 0).Distinct(StringComparer.OrdinalIgnoreCase);

    /// <summary>The SQL form of "<paramref name="email"/> is one of <see cref="Approvers"/>" (editors are stored lower-case).</summary>
    public static System.Linq.Expressions.Expression<Func<Dataset, bool>> ApprovableBy(string email)
    {
        var lower = email.ToLowerInvariant();
        return d => d.InformationAssetOwner.ToLower() == lower || d.InformationAssetManager.ToLower() == lower || d.Editors.Contains(lower);
    }
}

public enum TagType
{
    Topic,
    Source,
}

public sealed class Tag
{
    public Guid Id { get; set; } = Guid.NewGuid();
    public TagType Type { get; set; }
    public required string Name { get; set; }
    public List<Dataset> Datasets { get; set; } = [];
}

/// <summary>A table (or view) in the datasets database that a dataset points at.</summary>
public sealed class SourceTable
{
    public Guid Id { get; set; } = Guid.NewGuid();
    public Guid DatasetId { get; set; }
    public required string Name { get; set; }
    public required string Schema { get; set; }
    public required string Table { get; set; }
    public bool IsView { get; set; }
}

/// <summary>A file in S3 or a page elsewhere that a dataset points at.</summary>
public sealed class SourceLink
{
    public Guid Id { get; set; } = Guid.NewGuid();
    public Guid DatasetId { get; set; }
    public required string Name { get; set; }
    public required string Url { get; set; }
    public string Format { get; set; } = "";
}

/// <summary>A data cut: a SQL query over the datasets database, run with the reader's own credentials.</summary>
public sealed class CustomQuery
{
    public Guid Id { get; set; } = Guid.NewGuid();
    public Guid DatasetId { get; set; }
    public required string Name { get; set; }
    public required string Query { get; set; }
}

public enum PermissionSource
{
    /// <summary>Granted by an admin or an approver directly.</summary>
    Granted,

    /// <summary>Granted by approving the user's access request.</summary>
    AccessRequest,
}

/// <summary>A named user's access to a <see cref="AccessType.RequiresAuthorization"/> dataset, possibly until a date.</summary>
public sealed class DatasetPermission
{
    public Guid Id { get; set; } = Guid.NewGuid();
    public Guid DatasetId { get; set; }
    public required string UserId { get; set; }
    public PermissionSource Source { get; set; }
    public DateTimeOffset GrantedAt { get; set; }
    public required string GrantedBy { get; set; }
    public DateTimeOffset? ExpiresAt { get; set; }

    /// <summary>The request whose approval gave this permission, if any.</summary>
    public Guid? AccessRequestId { get; set; }

    /// <summary>Set when the permission ended: revoked by an approver, or recorded as expired by the expiry job.</summary>
    public DateTimeOffset? EndedAt { get; set; }
    public PermissionEnd? EndReason { get; set; }
    public string? EndedBy { get; set; }

    public bool IsActiveAt(DateTimeOffset now) => EndedAt is null && (ExpiresAt is null || ExpiresAt > now);
}

public static class DatasetPermissions
{
    /// <summary>
    /// The permissions in force at <paramref name="now"/> (the SQL form of <see cref="DatasetPermission.IsActiveAt"/>).
    /// Inside another query, capture the result in a local and use that: EF inlines it.
    /// </summary>
    public static IQueryable<DatasetPermission> ActiveAt(this IQueryable<DatasetPermission> permissions, DateTimeOffset now) =>
        permissions.Where(p => p.EndedAt == null && (p.ExpiresAt == null || p.ExpiresAt > now));
}

public enum PermissionEnd
{
    Expired,
    Revoked,
}

public sealed class Bookmark
{
    public Guid DatasetId { get; set; }
    public required string UserId { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}
