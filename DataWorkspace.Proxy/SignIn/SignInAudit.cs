using DataWorkspace.Proxy.ClientAddress;
using Microsoft.Extensions.Options;
using Npgsql;

namespace DataWorkspace.Proxy.SignIn;

/// <summary>
/// Writes a <c>signed-in</c> entry to the audit log (the catalogue's append-only <c>audit_events</c> table) when the
/// identity provider's answer is accepted. The proxy is where a sign-in happens; the web app never sees one. A sign-in
/// that cannot be audited does not complete.
/// </summary>
public sealed class SignInAudit(NpgsqlDataSource catalogue, IOptions<ProxyOptions> options, TimeProvider time)
{
    public async Task RecordAsync(HttpContext context, PlatformUser user)
    {
        var ip = ClientIpResolver.For(context, options.Value.TrustedHops).Address?.ToString();
        await using var command = catalogue.CreateCommand("""
            INSERT INTO audit_events (at, action, actor_id, actor_email, client_ip, subject_user_id, summary)
            VALUES ($1, 'signed-in', $2, $3, $4, $2, $5)
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = time.GetUtcNow() });
        command.Parameters.Add(new NpgsqlParameter { Value = user.Id });
        command.Parameters.Add(new NpgsqlParameter { Value = user.Email });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)ip ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter { Value = $"{user.Email} signed in" + (ip is null ? "" : $" from {ip}") });
        await command.ExecuteNonQueryAsync(context.RequestAborted);
    }
}
