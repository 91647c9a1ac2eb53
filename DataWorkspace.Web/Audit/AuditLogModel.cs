using DataWorkspace.Web.Data;
using Microsoft.EntityFrameworkCore;

namespace DataWorkspace.Web.Audit;

/// <summary>How the audit log maps to its table.</summary>
[CatalogueTables]
public static class AuditLogModel
{
    extension(CatalogueDbContext catalogue)
    {
        public DbSet<AuditEvent> AuditEvents => catalogue.Set<AuditEvent>();
    }

    public static void Configure(ModelBuilder model)
    {
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
    }
}
