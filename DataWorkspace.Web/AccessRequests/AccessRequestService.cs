using System.Security.Claims;
using DataWorkspace.Web.Audit;
using DataWorkspace.Web.Catalogue;
using DataWorkspace.Web.Data;
using DataWorkspace.Web.Identity;
using DataWorkspace.Web.Notifications;
using DataWorkspace.Web.Portal;
using Microsoft.EntityFrameworkCore;

namespace DataWorkspace.Web.AccessRequests;

/// <summary>Why an access action was refused.</summary>
public enum AccessRefusal
{
    /// <summary>The action does not fit the data as it is now (already decided, already has access...).</summary>
    Conflict,

    /// <summary>What was asked is incomplete or out of bounds.</summary>
    Invalid,

    /// <summary>The caller may not do this.</summary>
    NotAllowed,

    /// <summary>The request or permission does not exist.</summary>
    NotFound,
}

/// <summary>The outcome of an access action: done, or refused (with its kind) with a sentence that says why and what to do.</summary>
public sealed record AccessOutcome(string Message, AccessRefusal? Refusal)
{
    public bool Done => Refusal is null;

    public static AccessOutcome Succeeded(string message) => new(message, null);

    public static AccessOutcome Refused(string message, AccessRefusal refusal = AccessRefusal.Conflict) => new(message, refusal);
}

/// <summary>
/// Asking for, granting, refusing and taking away access to restricted datasets. Each change, its audit entry and the
/// emails it sends are saved in one transaction.
/// </summary>
public sealed class AccessRequestService(CatalogueDbContext catalogue, DatasetAccess access, AuditLog audit, Outbox outbox, PortalLinks links, TimeProvider time)
    : IPendingAccessRequests
{
    public DateOnly Today => DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);

    /// <summary>Why this user cannot ask for access to this dataset now, or null when they can.</summary>
    public async Task<string?> CannotRequestAsync(Dataset dataset, ClaimsPrincipal user, CancellationToken cancellationToken)
    {
        if (dataset.AccessType != AccessType.RequiresAuthorization)
            return "Everyone signed in to Data Workspace can use this data: there is no need to ask for access.";
        var decision = await access.DecideAsync(dataset, user.AsReader(), cancellationToken);
        if (decision.CanRead)
            return "You already have access to this data" + (decision.ExpiresAt is { } until ? $" until {until:d MMMM yyyy}." : ".");
        return await PendingSinceAsync(dataset.Id, user.Id(), cancellationToken) is { } asked
            ? $"You asked for access to this data on {asked:d MMMM yyyy} and the request is waiting for a decision. Its status is on your requests page."
            : null;
    }

    /// <summary>When the user's request for this dataset that still waits for a decision was made, if there is one.</summary>
    public Task<DateTimeOffset?> PendingSinceAsync(Guid datasetId, string userId, CancellationToken cancellationToken) =>
        catalogue.AccessRequests.AsNoTracking()
            .Where(r => r.DatasetId == datasetId && r.UserId == userId && r.Status == AccessRequestStatus.Pending)
            .Select(r => (DateTimeOffset?)r.CreatedAt).FirstOrDefaultAsync(cancellationToken);

    public async Task<(AccessOutcome Outcome, AccessRequest? Request)> SubmitAsync(
        Dataset dataset, ClaimsPrincipal user, string? reason, int months, IReadOnlyList<string> confirmedCriteria, CancellationToken cancellationToken)
    {
        if (await CannotRequestAsync(dataset, user, cancellationToken) is { } why) return (AccessOutcome.Refused(why), null);
        if (string.IsNullOrWhiteSpace(reason))
            return (AccessOutcome.Refused("Say why you need this data: the approvers decide from it.", AccessRefusal.Invalid), null);
        if (reason.Length > AccessRequestLimits.ReasonLength)
            return (AccessOutcome.Refused($"The reason is {reason.Length} characters long; keep it under {AccessRequestLimits.ReasonLength}.", AccessRefusal.Invalid), null);
        if (months is < 1 or > AccessRequestLimits.MaxMonths)
            return (AccessOutcome.Refused($"Choose how long you need the data: between 1 and {AccessRequestLimits.MaxMonths} months.", AccessRefusal.Invalid), null);
        if (!dataset.EligibilityCriteria.All(confirmedCriteria.Contains))
            return (AccessOutcome.Refused("Confirm that you meet each eligibility criterion for this data first.", AccessRefusal.Invalid), null);

        var now = time.GetUtcNow();
        var request = new AccessRequest
        {
            DatasetId = dataset.Id,
            UserId = user.Id(),
            UserEmail = user.EmailOf(),
            UserName = user.DisplayName(),
            Reason = reason.Trim(),
            NeededUntil = Today.AddMonths(months),
            ConfirmedCriteria = [.. dataset.EligibilityCriteria],
            Status = AccessRequestStatus.Pending,
            CreatedAt = now,
        };
        catalogue.AccessRequests.Add(request);
        audit.Add(AuditActions.AccessRequested, Actor.Of(user),
            $"{request.UserEmail} asked for access to '{dataset.Name}' until {request.NeededUntil:yyyy-MM-dd}", dataset.Id, request.UserId);
        foreach (var approver in dataset.Approvers)
            outbox.Enqueue(approver, $"Access request: {dataset.Name}",
                $"{request.UserName} ({request.UserEmail}) asks for access to '{dataset.Name}' until {request.NeededUntil:d MMMM yyyy}.\n\n" +
                $"Their reason: {request.Reason}\n\nApprove or reject it at {links.Portal($"/access-requests/{request.Id}")}");
        await catalogue.SaveChangesAsync(cancellationToken);
        return (AccessOutcome.Succeeded("Your request has been sent to the data's approvers."), request);
    }

    public async Task<AccessOutcome> DecideAsync(Guid requestId, bool approve, string? comment, ClaimsPrincipal approver, CancellationToken cancellationToken)
    {
        var request = await catalogue.AccessRequests.FirstOrDefaultAsync(r => r.Id == requestId, cancellationToken);
        if (request is null) return AccessOutcome.Refused("There is no such access request.", AccessRefusal.NotFound);
        var dataset = await catalogue.Datasets.FirstAsync(d => d.Id == request.DatasetId, cancellationToken);
        if (!DatasetAccess.IsApprover(dataset, approver))
            return AccessOutcome.Refused(
                $"Only the approvers of '{dataset.Name}' (its information asset owner, manager and editors) or an admin can decide this request.",
                AccessRefusal.NotAllowed);
        if (request.Status != AccessRequestStatus.Pending)
            return AccessOutcome.Refused(AlreadyDecided(request));
        comment = comment?.Trim() ?? "";
        if (!approve && comment.Length == 0)
            return AccessOutcome.Refused("Say why the request is rejected: the requester sees the comment.", AccessRefusal.Invalid);
        if (comment.Length > AccessRequestLimits.CommentLength)
            return AccessOutcome.Refused($"Keep the comment under {AccessRequestLimits.CommentLength} characters.", AccessRefusal.Invalid);

        var now = time.GetUtcNow();
        var actor = Actor.Of(approver);
        request.Status = approve ? AccessRequestStatus.Approved : AccessRequestStatus.Rejected;
        request.DecidedAt = now;
        request.DecidedBy = approver.EmailOf();
        request.DecisionComment = comment;
        var commentLine = comment.Length > 0 ? $"\n\nComment from {request.DecidedBy}: {comment}" : "";
        if (approve)
        {
            var until = AccessRequest.EndOf(request.NeededUntil);
            catalogue.Permissions.Add(new DatasetPermission
            {
                DatasetId = dataset.Id, UserId = request.UserId, Source = PermissionSource.AccessRequest, GrantedAt = now,
                GrantedBy = approver.EmailOf(), ExpiresAt = until, AccessRequestId = request.Id,
            });
            audit.Add(AuditActions.AccessGranted, actor, $"{actor.Email} approved {request.UserEmail}'s access to '{dataset.Name}' until {request.NeededUntil:yyyy-MM-dd}", dataset.Id, request.UserId);
            outbox.Enqueue(request.UserEmail, $"Access approved: {dataset.Name}",
                $"You can now use '{dataset.Name}' until {request.NeededUntil:d MMMM yyyy}: {links.Portal($"/datasets/{dataset.Slug}")}{commentLine}");
        }
        else
        {
            audit.Add(AuditActions.AccessRejected, actor, $"{actor.Email} rejected {request.UserEmail}'s request for '{dataset.Name}': {comment}", dataset.Id, request.UserId);
            outbox.Enqueue(request.UserEmail, $"Access request rejected: {dataset.Name}",
                $"Your request for access to '{dataset.Name}' was rejected.{commentLine}\n\nYour requests: {links.Portal("/requests")}");
        }

        try
        {
            await catalogue.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateConcurrencyException)
        {
            catalogue.ChangeTracker.Clear();
            var current = await catalogue.AccessRequests.AsNoTracking().FirstAsync(r => r.Id == requestId, cancellationToken);
            return AccessOutcome.Refused(AlreadyDecided(current));
        }

        return AccessOutcome.Succeeded(approve
            ? $"Approved: {request.UserName} can use '{dataset.Name}' until {request.NeededUntil:d MMMM yyyy}."
            : $"Rejected: {request.UserName} has been told why.");
    }

    /// <summary>Gives a user (who has signed in before) access directly, as an approver or admin can.</summary>
    public async Task<AccessOutcome> GrantAsync(Dataset dataset, string email, DateOnly? until, ClaimsPrincipal approver, CancellationToken cancellationToken)
    {
        if (!DatasetAccess.IsApprover(dataset, approver))
            return AccessOutcome.Refused($"Only the approvers of '{dataset.Name}' or an admin can give access to it.", AccessRefusal.NotAllowed);
        if (dataset.AccessType != AccessType.RequiresAuthorization)
            return AccessOutcome.Refused("Everyone signed in can already use this data.");
        email = email.Trim();
        var user = await catalogue.Users.AsNoTracking().FirstOrDefaultAsync(u => u.Email.ToLower() == email.ToLower(), cancellationToken);
        if (user is null)
            return AccessOutcome.Refused($"Nobody with the email '{email}' has signed in to Data Workspace yet. Ask them to sign in once, then try again.", AccessRefusal.Invalid);
        if (until is { } day && day < Today)
            return AccessOutcome.Refused("The end date is in the past.", AccessRefusal.Invalid);
        var now = time.GetUtcNow();
        if (await catalogue.Permissions.ActiveAt(now).AnyAsync(p => p.DatasetId == dataset.Id && p.UserId == user.Id, cancellationToken))
            return AccessOutcome.Refused($"{user.Email} already has access to this data.");

        catalogue.Permissions.Add(new DatasetPermission
        {
            DatasetId = dataset.Id, UserId = user.Id, Source = PermissionSource.Granted, GrantedAt = now, GrantedBy = approver.EmailOf(),
            ExpiresAt = until is { } end ? AccessRequest.EndOf(end) : null,
        });
        var actor = Actor.Of(approver);
        audit.Add(AuditActions.AccessGranted, actor,
            $"{actor.Email} gave {user.Email} access to '{dataset.Name}'" + (until is { } u ? $" until {u:yyyy-MM-dd}" : ""), dataset.Id, user.Id);
        outbox.Enqueue(user.Email, $"Access given: {dataset.Name}", $"{actor.Email} gave you access to '{dataset.Name}': {links.Portal($"/datasets/{dataset.Slug}")}");
        await catalogue.SaveChangesAsync(cancellationToken);
        return AccessOutcome.Succeeded($"{user.Email} can now use this data.");
    }

    public async Task<AccessOutcome> RevokeAsync(Guid permissionId, ClaimsPrincipal approver, CancellationToken cancellationToken)
    {
        var permission = await catalogue.Permissions.FirstOrDefaultAsync(p => p.Id == permissionId, cancellationToken);
        if (permission is null) return AccessOutcome.Refused("There is no such permission.", AccessRefusal.NotFound);
        var dataset = await catalogue.Datasets.FirstAsync(d => d.Id == permission.DatasetId, cancellationToken);
        if (!DatasetAccess.IsApprover(dataset, approver))
            return AccessOutcome.Refused($"Only the approvers of '{dataset.Name}' or an admin can take access to it away.", AccessRefusal.NotAllowed);
        var now = time.GetUtcNow();
        if (!permission.IsActiveAt(now)) return AccessOutcome.Refused("That access has already ended.");

        var user = await catalogue.Users.AsNoTracking().FirstOrDefaultAsync(u => u.Id == permission.UserId, cancellationToken);
        var email = user?.Email ?? permission.UserId;
        permission.EndedAt = now;
        permission.EndReason = PermissionEnd.Revoked;
        permission.EndedBy = approver.EmailOf();
        if (permission.AccessRequestId is { } requestId
            && await catalogue.AccessRequests.FirstOrDefaultAsync(r => r.Id == requestId, cancellationToken) is { } request)
        {
            request.Status = AccessRequestStatus.Revoked;
            request.EndedAt = now;
        }

        var actor = Actor.Of(approver);
        audit.Add(AuditActions.AccessRevoked, actor, $"{actor.Email} removed {email}'s access to '{dataset.Name}'", dataset.Id, permission.UserId);
        if (user is not null)
            outbox.Enqueue(user.Email, $"Access removed: {dataset.Name}", $"{actor.Email} removed your access to '{dataset.Name}'. Ask for access again if you still need it: {links.Portal($"/datasets/{dataset.Slug}")}");
        await catalogue.SaveChangesAsync(cancellationToken);
        return AccessOutcome.Succeeded($"{email} can no longer use this data.");
    }

    private static string AlreadyDecided(AccessRequest request) => request.Status switch
    {
        AccessRequestStatus.Pending => "The request is still waiting for a decision.",
        _ => $"This request was already {request.Status.ToString().ToLowerInvariant()}"
            + (request.DecidedBy is { } by ? $" by {by}" : "")
            + (request.DecidedAt is { } at ? $" on {at:d MMMM yyyy}" : "") + ". Nothing was changed.",
    };
}
