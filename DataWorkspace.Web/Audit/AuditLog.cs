using System.Security.Claims;
using DataWorkspace.Web.Data;
using DataWorkspace.Web.Identity;

namespace DataWorkspace.Web.Audit;

/// <summary>Who acted: a signed-in user (with the client IP the proxy resolved) or the platform itself.</summary>
public sealed record Actor(string Id, string Email, string? ClientIp)
{
    public static readonly Actor System = new("system", "system", null);

    public static Actor Of(ClaimsPrincipal user) => new(user.Id(), user.EmailOf(), user.FindFirstValue(PlatformClaims.ClientIp));
}

/// <summary>
/// Adds entries to the audit log in the caller's unit of work: the entry is saved with the change it describes, or
/// not at all.
/// </summary>
public sealed class AuditLog(CatalogueDbContext catalogue, TimeProvider time)
{
    public void Add(string action, Actor actor, string summary, Guid? datasetId = null, string? subjectUserId = null, string? details = null) =>
        catalogue.AuditEvents.Add(new AuditEvent
        {
            At = time.GetUtcNow(),
            Action = action,
            ActorId = actor.Id,
            ActorEmail = actor.Email,
            ClientIp = actor.ClientIp,
            DatasetId = datasetId,
            SubjectUserId = subjectUserId,
            Summary = summary.Length > 1000 ? summary[..1000] : summary,
            Details = details,
        });
}
