using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using DataWorkspace.Web.Data;
using DataWorkspace.Web.Notifications;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using MimeKit;
using SmtpServer;
using SmtpServer.Mail;
using SmtpServer.Protocol;
using SmtpServer.Storage;

namespace DataWorkspace.Web.Tests;

/// <summary>
/// The outbox sends through a real SMTP server on loopback: what it accepts arrives as written, what it refuses or
/// cannot take (down) stays in the outbox with the reason and is tried again later.
/// </summary>
public sealed class EmailDeliveryTests(WebFixture web) : IAsyncDisposable
{
    private const string From = "data-workspace@platform.example";
    private readonly int port = FreePort();
    private readonly string runId = Guid.NewGuid().ToString("N")[..8];
    private readonly ConcurrentQueue<MimeMessage> received = new();
    // Well past the app's own clock, so only this test's dispatcher picks up this test's messages; whole seconds, as
    // PostgreSQL keeps microseconds.
    private readonly FakeTimeProvider clock = new(DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.AddDays(30).ToUnixTimeSeconds()));
    private CancellationTokenSource? serverStop;
    private Task? server;

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_queued_email_reaches_the_mail_server_with_its_sender_recipient_subject_and_body()
    {
        StartServer();
        var id = await QueueAsync($"priya-{runId}@trade.example", "Access granted: Trade flows", "You can now use Trade flows.\nOpen it at /datasets/trade-flows.");

        await Dispatcher().SendBatchAsync(Cancel);

        var mail = Assert.Single(received, m => m.To.Mailboxes.Any(a => a.Address == $"priya-{runId}@trade.example"));
        Assert.Equal(From, mail.From.Mailboxes.Single().Address);
        Assert.Equal("Access granted: Trade flows", mail.Subject);
        Assert.Equal("You can now use Trade flows.\nOpen it at /datasets/trade-flows.", (mail.TextBody ?? "").ReplaceLineEndings("\n").TrimEnd('\n'));
        var row = await RowAsync(id);
        Assert.NotNull(row.SentAt);
        Assert.Null(row.LastError);
    }

    [Fact]
    public async Task A_recipient_the_server_refuses_stays_queued_with_the_reason_and_a_later_attempt()
    {
        StartServer();
        var refused = $"refused-{runId}@partner.example";
        var id = await QueueAsync(refused, "Your access request", "Tom asked for access.");

        await Dispatcher().SendBatchAsync(Cancel);

        var row = await RowAsync(id);
        Assert.Null(row.SentAt);
        Assert.Equal(1, row.Attempts);
        Assert.Contains($"refused the recipient {refused}", row.LastError);
        Assert.Contains("550", row.LastError);
        Assert.Equal(clock.GetUtcNow() + TimeSpan.FromSeconds(30), row.NextAttemptAt);
        Assert.DoesNotContain(received, m => m.To.Mailboxes.Any(a => a.Address == refused));
    }

    [Fact]
    public async Task While_the_mail_server_is_down_the_email_waits_and_goes_when_it_is_back()
    {
        var to = $"morgan-{runId}@platform.example";
        var id = await QueueAsync(to, "Training due", "Your data protection training is due.");

        await Dispatcher().SendBatchAsync(Cancel);

        var waiting = await RowAsync(id);
        Assert.Null(waiting.SentAt);
        Assert.Contains($"Could not reach the mail server at 127.0.0.1:{port}", waiting.LastError);

        StartServer();
        await Dispatcher().SendBatchAsync(Cancel);
        Assert.Null((await RowAsync(id)).SentAt);

        clock.Advance(TimeSpan.FromSeconds(30));
        await Dispatcher().SendBatchAsync(Cancel);

        var sent = await RowAsync(id);
        Assert.NotNull(sent.SentAt);
        Assert.Equal(2, sent.Attempts);
        Assert.Single(received, m => m.To.Mailboxes.Any(a => a.Address == to));
    }

    private OutboxDispatcher Dispatcher()
    {
        var options = Options.Create(new EmailOptions
        {
            From = From,
            Smtp = new EmailOptions.SmtpSettings { Host = "127.0.0.1", Port = port, EnableSsl = false },
        });
        return new OutboxDispatcher(web.Factory.Services.GetRequiredService<IServiceScopeFactory>(), new SmtpEmailSender(options), options, clock,
            NullLogger<OutboxDispatcher>.Instance);
    }

    private async Task<Guid> QueueAsync(string to, string subject, string body)
    {
        await using var catalogue = Catalogue();
        var message = new OutboxMessage
        {
            To = to,
            Subject = subject,
            Body = body,
            CreatedAt = clock.GetUtcNow(),
            NextAttemptAt = clock.GetUtcNow(),
        };
        catalogue.Outbox.Add(message);
        await catalogue.SaveChangesAsync(Cancel);
        return message.Id;
    }

    private async Task<OutboxMessage> RowAsync(Guid id)
    {
        await using var catalogue = Catalogue();
        return await catalogue.Outbox.AsNoTracking().SingleAsync(m => m.Id == id, Cancel);
    }

    private CatalogueDbContext Catalogue() => new CatalogueData(web).Context();

    private void StartServer()
    {
        var options = new SmtpServerOptionsBuilder()
            .ServerName("localhost")
            .Endpoint(endpoint => endpoint.Endpoint(new IPEndPoint(IPAddress.Loopback, port)))
            .Build();
        var services = new SmtpServer.ComponentModel.ServiceProvider();
        services.Add(new Inbox(received));
        services.Add(new DelegatingMailboxFilter(
            (_, _) => true,
            (_, to, _) => !to.User.StartsWith("refused-", StringComparison.Ordinal)));
        serverStop = new CancellationTokenSource();
        server = new SmtpServer.SmtpServer(options, services).StartAsync(serverStop.Token);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        if (serverStop is null || server is null) return;
        await serverStop.CancelAsync();
        await server.ContinueWith(_ => { }, TaskScheduler.Default);
        serverStop.Dispose();
    }

    private sealed class Inbox(ConcurrentQueue<MimeMessage> received) : MessageStore
    {
        public override async Task<SmtpResponse> SaveAsync(ISessionContext context, IMessageTransaction transaction, ReadOnlySequence<byte> buffer, CancellationToken cancellationToken)
        {
            await using var stream = new MemoryStream(buffer.ToArray());
            received.Enqueue(await MimeMessage.LoadAsync(stream, cancellationToken));
            return SmtpResponse.Ok;
        }
    }
}
