using Microsoft.EntityFrameworkCore;

namespace DataWorkspace.Web.Data;

public static class Transactions
{
    /// <summary>
    /// Runs <paramref name="work"/> in one transaction under the context's execution strategy (Aspire's Npgsql
    /// integration retries transient failures, which needs the whole unit handed to it), committing at the end.
    /// </summary>
    public static Task<T> InTransactionAsync<T>(this DbContext context, Func<CancellationToken, Task<T>> work, CancellationToken cancellationToken) =>
        context.Database.CreateExecutionStrategy().ExecuteAsync(async token =>
        {
            await using var transaction = await context.Database.BeginTransactionAsync(token);
            var result = await work(token);
            await transaction.CommitAsync(token);
            return result;
        }, cancellationToken);
}
