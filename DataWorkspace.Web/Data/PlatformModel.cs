using DataWorkspace.Web.AccessRequests;
using DataWorkspace.Web.Audit;
using DataWorkspace.Web.Catalogue;
using DataWorkspace.Web.Notifications;
using DataWorkspace.Web.ReferenceData;
using DataWorkspace.Web.ToolsAccess;
using Microsoft.EntityFrameworkCore;

namespace DataWorkspace.Web.Data;

/// <summary>How access requests, the audit log, the outbox, tools permissions and reference data map to tables.</summary>
public static class PlatformModel
{
    public static void Configure(ModelBuilder model)
    {
        model.Entity<AccessRequest>(request =>
        {
            request.ToTable("access_requests");
            request.Property(r => r.Status).HasConversion<string>().HasMaxLength(16);
            request.Property(r => r.Version).IsRowVersion();
            request.Property(r => r.UserId).HasMaxLength(255);
            request.Property(r => r.UserEmail).HasMaxLength(320);
            request.Property(r => r.Reason).HasMaxLength(AccessRequestLimits.ReasonLength);
            request.Property(r => r.DecisionComment).HasMaxLength(AccessRequestLimits.CommentLength);
            request.HasIndex(r => new { r.UserId, r.CreatedAt });
            request.HasIndex(r => new { r.DatasetId, r.Status });
            request.HasOne<Dataset>().WithMany().HasForeignKey(r => r.DatasetId).OnDelete(DeleteBehavior.Cascade);
        });

        model.Entity<AuditEvent>(audit =>
        {
            audit.ToTable("audit_events");
            audit.Property(a => a.Id).UseIdentityAlwaysColumn();
            audit.Property(a => a.Action).HasMaxLength(64);
            audit.Property(a => a.ActorId).HasMaxLength(255);
            audit.Property(a => a.ActorEmail).HasMaxLength(320);
            audit.Property(a => a.ClientIp).HasMaxLength(64);
            audit.Property(a => a.SubjectUserId).HasMaxLength(255);
            audit.HasIndex(a => a.At);
            audit.HasIndex(a => new { a.Action, a.At });
            audit.HasIndex(a => new { a.ActorId, a.At });
            audit.HasIndex(a => a.DatasetId);
        });

        model.Entity<OutboxMessage>(message =>
        {
            message.ToTable("outbox_messages");
            message.Property(m => m.To).HasMaxLength(320);
            message.Property(m => m.Subject).HasMaxLength(255);
            message.HasIndex(m => m.NextAttemptAt).HasFilter("sent_at IS NULL");
        });

        model.Entity<ToolsPermission>(permission =>
        {
            permission.ToTable("tools_permissions");
            permission.HasKey(p => p.UserId);
            permission.Property(p => p.UserId).HasMaxLength(255);
            permission.Property(p => p.Source).HasConversion<string>().HasMaxLength(16);
            permission.HasIndex(p => p.ExpiresAt);
        });

        model.Entity<ReferenceTable>(table =>
        {
            table.ToTable("reference_tables");
            table.Property(t => t.TableName).HasMaxLength(63);
            table.HasIndex(t => t.TableName).IsUnique();
            table.HasIndex(t => t.DatasetId).IsUnique();
            table.Property(t => t.Columns).HasColumnType("jsonb").HasConversion(
                columns => System.Text.Json.JsonSerializer.Serialize(columns, ReferenceJson.Options),
                json => System.Text.Json.JsonSerializer.Deserialize<List<ReferenceColumn>>(json, ReferenceJson.Options) ?? new List<ReferenceColumn>(),
                new Microsoft.EntityFrameworkCore.ChangeTracking.ValueComparer<List<ReferenceColumn>>(
                    (a, b) => a!.SequenceEqual(b!), c => c.Aggregate(0, (hash, column) => HashCode.Combine(hash, column)), c => c.ToList()));
            table.HasOne<Dataset>().WithMany().HasForeignKey(t => t.DatasetId).OnDelete(DeleteBehavior.Cascade);
            table.HasMany(t => t.Rows).WithOne().HasForeignKey(r => r.ReferenceTableId).OnDelete(DeleteBehavior.Cascade);
        });

        model.Entity<ReferenceRow>(row =>
        {
            row.ToTable("reference_rows");
            row.HasIndex(r => new { r.ReferenceTableId, r.Position });
        });
    }
}
