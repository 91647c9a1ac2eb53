using DataWorkspace.Contracts;
using DataWorkspace.Proxy.ClientAddress;
using Microsoft.Extensions.Options;
using Npgsql;

namespace DataWorkspace.Proxy.SignIn;

/// <summary>
/// Writes a <c>signed-in</c> entry to the audit log (the catalogue's append-only <c>audit_events</c> table) when the
/// identity provider's answer is accepted, and a <c>sign-in.refused</c> entry when the platform refuses a user the
/// provider accepted (a deactivated account). The proxy is where a sign-in happens; the web app never sees one. A
/// sign-in that cannot be audited does not complete.
/// </summary>
public sealed class SignInAudit(NpgsqlDataSource catalogue, IOptions<ProxyOptions> options, TimeProvider time)
{
    public Task RecordAsync(HttpContext context, PlatformUser user) => WriteAsync(context, user, SignInAuditActions.SignedIn, "signed in");

    public Task RecordRefusedAsync(HttpContext context, PlatformUser user) =>
        WriteAsync(context, user, SignInAuditActions.Refused, "was refused sign-in: the account is deactivated");

    /// <summary>Whether an administrator has deactivated the user (the web app's <c>users.deactivated_at</c>).</summary>
    public async Task<bool> IsDeactivatedAsync(string userId, CancellationToken cancellationToken)
    {
        await using var command = catalogue.CreateCommand("SELECT EXISTS (SELECT 1 FROM users WHERE id = $1 AND deactivated_at IS NOT NULL)");
        command.Parameters.Add(new NpgsqlParameter { Value = userId });
        return (bool)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    private async Task WriteAsync(HttpContext context, PlatformUser user, string action, string what)
    {
        var ip = ClientIpResolver.For(context, options.Value.TrustedHops).Address?.ToString();
        await using var command = catalogue.CreateCommand("""
            INSERT INTO audit_events (at, action, actor_id, actor_email, client_ip, subject_user_id, summary)
            VALUES ($1, $2, $3, $4, $5, $3, $6)
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = time.GetUtcNow() });
        command.Parameters.Add(new NpgsqlParameter { Value = action });
        command.Parameters.Add(new NpgsqlParameter { Value = user.Id });
        command.Parameters.Add(new NpgsqlParameter { Value = user.Email });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)ip ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter { Value = $"{user.Email} {what}" + (ip is null ? "" : $" from {ip}") });
        await command.ExecuteNonQueryAsync(context.RequestAborted);
    }
}
