using System.ComponentModel.DataAnnotations;
using System.Net.Sockets;
using MailKit;
using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;
using Microsoft.Extensions.Options;

namespace DataWorkspace.Web.Notifications;

public interface IEmailSender
{
    Task SendAsync(OutboxMessage message, CancellationToken cancellationToken);
}

public sealed class EmailOptions
{
    public const string Section = "Email";

    /// <summary>The sender address on every email.</summary>
    [Required]
    public string From { get; set; } = "data-workspace@localhost";

    /// <summary>How often the outbox is checked for emails to send.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The SMTP relay; when no host is set, emails are written to the log instead (local runs).</summary>
    public SmtpSettings Smtp { get; set; } = new();

    public sealed class SmtpSettings
    {
        public string? Host { get; set; }
        public int Port { get; set; } = 587;
        public bool EnableSsl { get; set; } = true;
        public string? UserName { get; set; }
        public string? Password { get; set; }
    }
}

/// <summary>Local runs: the email is written to the web app's log (and so to the Aspire dashboard) and counts as sent.</summary>
public sealed class LogEmailSender(ILogger<LogEmailSender> logger) : IEmailSender
{
    public Task SendAsync(OutboxMessage message, CancellationToken cancellationToken)
    {
        logger.LogInformation("Email to {To}: {Subject}\n{Body}", message.To, message.Subject, message.Body);
        return Task.CompletedTask;
    }
}

/// <summary>
/// Sends through the SMTP relay named by <c>Email:Smtp:Host</c>. A failure throws <see cref="EmailNotSentException"/>
/// saying what went wrong in words the platform team can act on; the outbox keeps it on the row and tries again later.
/// </summary>
public sealed class SmtpEmailSender(IOptions<EmailOptions> options) : IEmailSender
{
    public async Task SendAsync(OutboxMessage message, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var smtp = settings.Smtp;
        using var mail = new MimeMessage();
        mail.From.Add(MailboxAddress.Parse(settings.From));
        mail.To.Add(MailboxAddress.Parse(message.To));
        mail.Subject = message.Subject;
        mail.Body = new TextPart("plain") { Text = message.Body };

        using var client = new SmtpClient();
        try
        {
            await client.ConnectAsync(smtp.Host ?? throw new InvalidOperationException("Email:Smtp:Host is not set."), smtp.Port, Security(smtp), cancellationToken);
            if (smtp.UserName is { Length: > 0 } user) await client.AuthenticateAsync(user, smtp.Password ?? "", cancellationToken);
            await client.SendAsync(mail, cancellationToken);
            await client.DisconnectAsync(quit: true, cancellationToken);
        }
        catch (SmtpCommandException refused) when (refused.ErrorCode == SmtpErrorCode.RecipientNotAccepted)
        {
            throw new EmailNotSentException($"The mail server at {smtp.Host}:{smtp.Port} refused the recipient {message.To}: {(int)refused.StatusCode} {refused.Message}", refused);
        }
        catch (SmtpCommandException refused) when (refused.ErrorCode == SmtpErrorCode.SenderNotAccepted)
        {
            throw new EmailNotSentException($"The mail server at {smtp.Host}:{smtp.Port} refused the sender {settings.From} (Email:From): {(int)refused.StatusCode} {refused.Message}", refused);
        }
        catch (SmtpCommandException refused)
        {
            throw new EmailNotSentException($"The mail server at {smtp.Host}:{smtp.Port} refused the email: {(int)refused.StatusCode} {refused.Message}", refused);
        }
        catch (AuthenticationException refused)
        {
            throw new EmailNotSentException($"The mail server at {smtp.Host}:{smtp.Port} refused the user name and password in Email:Smtp: {refused.Message}", refused);
        }
        catch (Exception unreachable) when (unreachable is SocketException or IOException or SslHandshakeException or SmtpProtocolException)
        {
            throw new EmailNotSentException($"Could not reach the mail server at {smtp.Host}:{smtp.Port} (Email:Smtp): {unreachable.Message}", unreachable);
        }
    }

    // EnableSsl means STARTTLS on the submission port, as System.Net.Mail did; port 465 speaks TLS from the start.
    private static SecureSocketOptions Security(EmailOptions.SmtpSettings smtp) =>
        !smtp.EnableSsl ? SecureSocketOptions.None : smtp.Port == 465 ? SecureSocketOptions.SslOnConnect : SecureSocketOptions.StartTls;
}

/// <summary>An email the mail server did not take, with why.</summary>
public sealed class EmailNotSentException(string message, Exception inner) : Exception(message, inner);
