namespace DataWorkspace.Web.AccessRequests;

public enum AccessRequestStatus
{
    /// <summary>Sent, waiting for an approver.</summary>
    Pending,
    Approved,
    Rejected,

    /// <summary>Approved, and the access it gave has since been removed by an approver or an admin.</summary>
    Revoked,

    /// <summary>Approved, and the access it gave has reached its end date.</summary>
    Expired,
}

/// <summary>A user's request to read a restricted dataset, and what the approvers decided.</summary>
public sealed class AccessRequest
{
    public Guid Id { get; set; } = Guid.NewGuid();
    public Guid DatasetId { get; set; }
    public required string UserId { get; set; }
    public required string UserEmail { get; set; }
    public required string UserName { get; set; }
    public required string Reason { get; set; }

    /// <summary>The last day the requester needs the data; approved access ends at the end of that day (UTC).</summary>
    public DateOnly NeededUntil { get; set; }

    /// <summary>The eligibility criteria the requester confirmed they meet, as they were worded when they confirmed.</summary>
    public List<string> ConfirmedCriteria { get; set; } = [];

    public AccessRequestStatus Status { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? DecidedAt { get; set; }
    public string? DecidedBy { get; set; }
    public string DecisionComment { get; set; } = "";

    /// <summary>When an approved request's access ended (revoked or expired).</summary>
    public DateTimeOffset? EndedAt { get; set; }

    /// <summary>PostgreSQL's xmin: two approvers deciding at once cannot both win.</summary>
    public uint Version { get; set; }

    public static DateTimeOffset EndOf(DateOnly day) => new(day.AddDays(1).ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
}
