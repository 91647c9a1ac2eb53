using System.Data.Common;
using DataWorkspace.Contracts;

namespace DataWorkspace.Accounts;

/// <summary>
/// Sends an <see cref="AccountNotice"/> on <see cref="AccountNotice.Channel"/> with PostgreSQL's NOTIFY: the one way
/// any project sends one, heard by every <see cref="AccountNoticeListener"/>.
/// </summary>
public static class AccountNotices
{
    /// <summary>
    /// Sends <paramref name="notice"/> in <paramref name="transaction"/> (the change's own): every replica hears it
    /// when, and only if, that commits.
    /// </summary>
    public static async Task SendAsync(DbConnection connection, DbTransaction? transaction, AccountNotice notice, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT pg_notify($1, $2)";
        foreach (var value in new[] { AccountNotice.Channel, notice.ToPayload() })
        {
            var parameter = command.CreateParameter();
            parameter.Value = value;
            command.Parameters.Add(parameter);
        }

        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
