using DataWorkspace.Web.Data;

namespace DataWorkspace.Web.Notifications;

/// <summary>Queues an email in the caller's unit of work (see <see cref="OutboxMessage"/>).</summary>
public sealed class Outbox(CatalogueDbContext catalogue, TimeProvider time)
{
    public void Enqueue(string to, string subject, string body)
    {
        var now = time.GetUtcNow();
        catalogue.Outbox.Add(new OutboxMessage { To = to, Subject = subject, Body = body, CreatedAt = now, NextAttemptAt = now });
    }
}
