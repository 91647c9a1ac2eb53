using System.Security.Claims;
using DataWorkspace.Web.Audit;
using DataWorkspace.Web.Data;
using DataWorkspace.Web.Identity;
using Microsoft.EntityFrameworkCore;

namespace DataWorkspace.Web.ToolsAccess;

/// <summary>Who may launch tools: users who self-certified their data protection training within a year, or whom an admin allowed.</summary>
public sealed class ToolsAccessService(CatalogueDbContext catalogue, AuditLog audit, TimeProvider time)
{
    public DateOnly Today => DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);

    public async Task<ToolsPermission?> ActivePermissionAsync(string userId, CancellationToken cancellationToken)
    {
        return await catalogue.ToolsPermissions.AsNoTracking().ActiveAt(time.GetUtcNow())
            .FirstOrDefaultAsync(p => p.UserId == userId, cancellationToken);
    }

    /// <summary>Null when the certification is accepted; otherwise what is wrong with it.</summary>
    public async Task<string?> SelfCertifyAsync(ClaimsPrincipal user, DateOnly? trainingCompletedOn, bool confirmed, CancellationToken cancellationToken)
    {
        if (!confirmed) return "Confirm that you completed the data protection training.";
        if (trainingCompletedOn is not { } day) return "Enter the date you completed the training, for example 27 3 2026.";
        if (day > Today) return "The training date cannot be in the future.";
        var expires = new DateTimeOffset(day.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero) + ToolsPermission.TrainingValidFor;
        if (expires <= time.GetUtcNow())
            return $"Training completed on {day:d MMMM yyyy} is more than a year old: do the training again, then come back.";

        var existing = await catalogue.ToolsPermissions.FirstOrDefaultAsync(p => p.UserId == user.Id(), cancellationToken);
        if (existing is null) catalogue.ToolsPermissions.Add(existing = new ToolsPermission { UserId = user.Id(), GrantedBy = user.EmailOf() });
        existing.Source = ToolsPermissionSource.SelfCertified;
        existing.TrainingCompletedOn = day;
        existing.GrantedAt = time.GetUtcNow();
        existing.GrantedBy = user.EmailOf();
        existing.ExpiresAt = expires;
        audit.Add(AuditActions.ToolsAccessCertified, Actor.Of(user),
            $"{user.EmailOf()} certified data protection training completed on {day:yyyy-MM-dd}; tools access until {expires:yyyy-MM-dd}", subjectUserId: user.Id());
        await catalogue.SaveChangesAsync(cancellationToken);
        return null;
    }

    public async Task SetByAdminAsync(string userId, string userEmail, bool granted, ClaimsPrincipal admin, CancellationToken cancellationToken)
    {
        var existing = await catalogue.ToolsPermissions.FirstOrDefaultAsync(p => p.UserId == userId, cancellationToken);
        var actor = Actor.Of(admin);
        if (granted)
        {
            if (existing is null) catalogue.ToolsPermissions.Add(existing = new ToolsPermission { UserId = userId, GrantedBy = actor.Email });
            existing.Source = ToolsPermissionSource.Admin;
            existing.GrantedAt = time.GetUtcNow();
            existing.GrantedBy = actor.Email;
            existing.ExpiresAt = null;
            existing.TrainingCompletedOn = null;
            audit.Add(AuditActions.ToolsAccessGranted, actor, $"{actor.Email} allowed {userEmail} to use tools", subjectUserId: userId);
        }
        else if (existing is not null)
        {
            catalogue.ToolsPermissions.Remove(existing);
            audit.Add(AuditActions.ToolsAccessRemoved, actor, $"{actor.Email} removed {userEmail}'s tools access", subjectUserId: userId);
        }

        await catalogue.SaveChangesAsync(cancellationToken);
    }
}
