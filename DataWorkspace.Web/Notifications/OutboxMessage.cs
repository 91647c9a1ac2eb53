namespace DataWorkspace.Web.Notifications;

/// <summary>
/// An email waiting to be sent. Written in the same transaction as the change it tells people about, so a
/// notification is never lost and never sent for a change that rolled back; <see cref="OutboxDispatcher"/> sends it.
/// </summary>
public sealed class OutboxMessage
{
    public Guid Id { get; set; } = Guid.NewGuid();
    public required string To { get; set; }
    public required string Subject { get; set; }
    public required string Body { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset NextAttemptAt { get; set; }
    public DateTimeOffset? SentAt { get; set; }
    public int Attempts { get; set; }
    public string? LastError { get; set; }
}
