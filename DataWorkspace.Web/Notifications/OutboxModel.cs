using DataWorkspace.Web.Data;
using Microsoft.EntityFrameworkCore;

namespace DataWorkspace.Web.Notifications;

/// <summary>How the outbox maps to its table.</summary>
[CatalogueTables]
public static class OutboxModel
{
    extension(CatalogueDbContext catalogue)
    {
        public DbSet<OutboxMessage> Outbox => catalogue.Set<OutboxMessage>();
    }

    public static void Configure(ModelBuilder model)
    {
        model.Entity<OutboxMessage>(message =>
        {
            message.ToTable("outbox_messages");
            message.Property(m => m.To).HasMaxLength(320);
            message.Property(m => m.Subject).HasMaxLength(255);
            message.HasIndex(m => m.NextAttemptAt).HasFilter("sent_at IS NULL");
        });
    }
}
