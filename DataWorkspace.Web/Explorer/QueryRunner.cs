using System.Collections.Concurrent;
using System.Data.Common;
using System.Diagnostics;
using System.Globalization;
using DataWorkspace.Web.Audit;
using DataWorkspace.Web.Catalogue;
using DataWorkspace.Web.Data;
using DataWorkspace.Web.DatabaseAccess;
using DataWorkspace.Web.Telemetry;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using static DataWorkspace.Web.DatabaseAccess.DatabaseRoleNames;

namespace DataWorkspace.Web.Explorer;

public sealed record QueryError(string Message, string? Detail, string? Hint, string? Code, int? Position, int? Line, int? Column);

public sealed record ResultColumn(string Name, string Type);

/// <summary>What the API answers about a query: its state and, once it has rows, one page of them.</summary>
public sealed record QueryView(
    Guid Id, string Status, string Sql, DateTimeOffset StartedAt, long? DurationMs, IReadOnlyList<ResultColumn> Columns,
    IReadOnlyList<object?[]> Rows, int Page, int PageSize, long? Total, long? RowsAffected, QueryError? Error);

/// <summary>Thrown for input the Explorer refuses before running anything; the message says what to do.</summary>
public sealed class QueryRefusedException(string message) : Exception(message);

/// <summary>
/// Runs Data Explorer queries with the user's own short-lived login. A query's rows go into an unlogged table in the
/// user's own schema (one execution, no rows held in memory), and pages are read back from there, on any replica;
/// other statements (INSERT, CREATE...) just run. The backend's pid is recorded so Cancel reaches it from anywhere.
/// </summary>
public sealed class QueryRunner(
    IServiceScopeFactory scopes,
    DatabaseLogins logins,
    [FromKeyedServices(DatasetsDatabase.ConnectionName)] NpgsqlDataSource datasets,
    TimeProvider time,
    ExplorerInstruments instruments,
    ILogger<QueryRunner> logger)
{
    public const int MaxSqlLength = 100_000;
    public const int PageSize = 1000;
    public static readonly TimeSpan KeepResultsFor = TimeSpan.FromHours(24);
    private const string ResultPrefix = "_dw_result_";

    /// <summary>Queries running in this process: the whole run, and the moment their first page is stored.</summary>
    private readonly ConcurrentDictionary<Guid, (Task Whole, TaskCompletionSource FirstPage, CancellationTokenSource Stop)> running = new();

    public async Task<Guid> StartAsync(string userId, string userName, string email, string? sql, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(sql)) throw new QueryRefusedException("Write a query first: the SQL was empty.");
        if (sql.Length > MaxSqlLength)
            throw new QueryRefusedException($"The query is {sql.Length:N0} characters long; the limit is {MaxSqlLength:N0}. Put large lists of values in a table in your own schema and join to it.");

        var login = await logins.PortalLoginAsync(userId, cancellationToken);
        var query = new ExplorerQuery { UserId = userId, Sql = sql, Status = QueryStatus.Running, StartedAt = time.GetUtcNow(), LoginRole = login.RoleName };
        await using (var scope = scopes.CreateAsyncScope())
        {
            var catalogue = scope.ServiceProvider.GetRequiredService<CatalogueDbContext>();
            catalogue.Add(query);
            await catalogue.SaveChangesAsync(cancellationToken);
        }

        var actor = new Actor(userId, email, null);
        var firstPage = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var stop = new CancellationTokenSource();
        running[query.Id] = (Task.Run(() => RunAsync(query.Id, userId, userName, actor, sql, login, firstPage, stop.Token)), firstPage, stop);
        return query.Id;
    }

    /// <summary>
    /// Waits up to <paramref name="wait"/> for the query's first page (or, with <paramref name="untilComplete"/>, for
    /// all its rows and their count); returns at once when it has them.
    /// </summary>
    public async Task WaitAsync(Guid id, TimeSpan wait, CancellationToken cancellationToken, bool untilComplete = false)
    {
        if (wait <= TimeSpan.Zero) return;
        var until = Stopwatch.GetTimestamp() + (long)(wait.TotalSeconds * Stopwatch.Frequency);
        if (running.TryGetValue(id, out var run))
        {
            await Task.WhenAny(untilComplete ? run.Whole : run.FirstPage.Task, Task.Delay(wait, cancellationToken));
            return;
        }

        // Started on another replica: watch its record.
        while (Stopwatch.GetTimestamp() < until && await StateAsync(id, cancellationToken) is { } state
            && (state.Status == QueryStatus.Running || (untilComplete && state.Loading)))
            await Task.Delay(250, cancellationToken);
    }

    private async Task<(QueryStatus Status, bool Loading)?> StateAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var catalogue = scope.ServiceProvider.GetRequiredService<CatalogueDbContext>();
        var state = await catalogue.Set<ExplorerQuery>().Where(q => q.Id == id)
            .Select(q => new { q.Status, Loading = q.Status == QueryStatus.Completed && q.ResultTable != null && q.Total == null })
            .FirstOrDefaultAsync(cancellationToken);
        return state is null ? null : (state.Status, state.Loading);
    }

    /// <summary>The user's SQL as it is run: trimmed, without trailing semicolons; a query's rows go to <paramref name="Table"/>.</summary>
    /// <param name="Leading">The whitespace trimmed from the start, so that error positions point into the SQL as written.</param>
    private sealed record Statement(string Body, int Leading, bool IsQuery, string? Table);

    /// <summary>How a run ended.</summary>
    private sealed class RunResult
    {
        public QueryStatus Status { get; set; }
        public long? Total { get; set; }
        public long? RowsAffected { get; set; }
        public PostgresException? Failure { get; set; }

        /// <summary>What came before the user's SQL in the command that was running, so an error position maps back to it.</summary>
        public string Prefix { get; set; } = "";
    }

    private async Task RunAsync(Guid id, string userId, string userName, Actor actor, string sql, UserLogin login, TaskCompletionSource firstPage, CancellationToken stop)
    {
        var started = Stopwatch.GetTimestamp();
        using var activity = WebTelemetry.Activities.StartActivity("explorer query");
        activity?.SetTag("dataworkspace.explorer.query_id", id.ToString());
        instruments.Started();
        var statement = Prepare(id, userId, sql);
        var run = new RunResult { Status = QueryStatus.Failed };
        try
        {
            run = await ExecuteAsync(id, statement, login, firstPage, stop);
        }
        finally
        {
            instruments.Ended(run.Status, Stopwatch.GetElapsedTime(started));
        }

        var elapsed = Stopwatch.GetElapsedTime(started);
        activity?.SetTag("dataworkspace.explorer.status", ExplorerInstruments.StatusTag(run.Status));
        if (run.Status == QueryStatus.Failed) activity?.SetStatus(ActivityStatusCode.Error, run.Failure?.SqlState);
        try
        {
            await RecordAsync(id, userName, actor, sql, statement, run, elapsed);
        }
        catch (Exception exception)
        {
            logger.LogError(exception, "Could not record the outcome of Data Explorer query {Id}", id);
        }
        finally
        {
            firstPage.TrySetResult();
            if (running.TryRemove(id, out var entry)) entry.Stop.Dispose();
        }
    }

    private static Statement Prepare(Guid id, string userId, string sql)
    {
        var body = sql.Trim();
        var leading = sql.Length - sql.TrimStart().Length;
        while (body.EndsWith(';')) body = body[..^1].TrimEnd();
        var isQuery = IsQuery(body);
        return new Statement(body, leading, isQuery, isQuery ? $"{Quote(User(userId))}.{Quote(ResultPrefix + id.ToString("N"))}" : null);
    }

    /// <summary>Runs the statement on a connection of the user's login and says how it ended; PostgreSQL's errors are the user's answer.</summary>
    private async Task<RunResult> ExecuteAsync(Guid id, Statement statement, UserLogin login, TaskCompletionSource firstPage, CancellationToken stop)
    {
        var run = new RunResult();
        try
        {
            await using var connection = await login.DataSource.OpenConnectionAsync();
            await UpdateAsync(id, q => q.BackendPid = connection.ProcessID);
            // Cancel may come at any moment: a statement in flight is cancelled by PostgreSQL, and between statements
            // the next one is never started (a cancel signal to an idle backend is lost, so both are needed).
            var pid = connection.ProcessID;
            await using var onStop = stop.Register(() => _ = CancelBackendAsync(pid, login.RoleName));
            stop.ThrowIfCancellationRequested();
            if (statement.IsQuery) await StoreRowsAsync(id, statement, connection, login, run, firstPage, stop);
            else await RunCommandAsync(statement, connection, run);
        }
        catch (PostgresException exception)
        {
            run.Failure = exception;
            run.Status = exception.SqlState == PostgresErrorCodes.QueryCanceled && exception.MessageText.Contains("user request") ? QueryStatus.Cancelled : QueryStatus.Failed;
        }
        catch (Exception exception) when (stop.IsCancellationRequested && exception is OperationCanceledException or NpgsqlException)
        {
            // Cancelled between statements, or the cancel broke the COPY mid-way.
            run.Status = QueryStatus.Cancelled;
        }
        catch (Exception exception)
        {
            logger.LogWarning(exception, "Data Explorer query {Id} failed outside PostgreSQL", id);
            run.Status = QueryStatus.Failed;
            await UpdateAsync(id, q => q.ErrorMessage = "The query could not be run: the datasets database could not be reached. Try again in a minute.");
        }

        return run;
    }

    /// <summary>
    /// Stores a query's rows in its result table: the table first (planned, not run), then one execution of the query
    /// streamed into it as binary COPY: the first page is committed as soon as it arrives, the rest as it comes, the
    /// total at the end.
    /// </summary>
    private async Task StoreRowsAsync(
        Guid id, Statement statement, NpgsqlConnection connection, UserLogin login, RunResult run, TaskCompletionSource firstPage, CancellationToken stop)
    {
        var table = statement.Table!;
        run.Prefix = "SELECT * FROM (\n";
        var (select, aliases) = await StorableColumnsAsync(connection, run.Prefix + statement.Body + "\n) AS q");
        stop.ThrowIfCancellationRequested();
        var source = $"SELECT {select} FROM (\n{statement.Body}\n) AS q({aliases})";
        run.Prefix = $"CREATE UNLOGGED TABLE {table} AS SELECT {select} FROM (\n";
        await using (var create = new NpgsqlCommand($"CREATE UNLOGGED TABLE {table} AS {source} WITH NO DATA", connection))
            await create.ExecuteNonQueryAsync();
        stop.ThrowIfCancellationRequested();
        run.Prefix = $"COPY (SELECT {select} FROM (\n";
        await using var writer = await login.DataSource.OpenConnectionAsync();
        using var rows = await connection.BeginRawBinaryCopyAsync($"COPY ({source}) TO STDOUT (FORMAT binary)");
        var pipe = new BinaryCopyPipe(rows);
        await StoreAsync(writer, table, pipe, PageSize);
        await UpdateAsync(id, q =>
        {
            q.Status = QueryStatus.Completed;
            q.ResultTable = table;
            q.Total = pipe.Finished ? pipe.Rows : null;
        });
        firstPage.TrySetResult();
        while (!pipe.Finished) await StoreAsync(writer, table, pipe, 1_000_000);

        run.Total = pipe.Rows;
        run.Status = QueryStatus.Completed;
    }

    /// <summary>
    /// The select list and column aliases that store the query's result, found without running it: duplicate names get
    /// a suffix and columns a table cannot hold (pg_sleep's void) are kept as text, so any query's rows can be stored.
    /// </summary>
    private static async Task<(string Select, string Aliases)> StorableColumnsAsync(NpgsqlConnection connection, string describeSql)
    {
        var columns = new List<(string Name, string Type)>();
        await using (var describe = new NpgsqlCommand(describeSql, connection))
        await using (var shape = await describe.ExecuteReaderAsync(System.Data.CommandBehavior.SchemaOnly))
            for (var i = 0; i < shape.FieldCount; i++) columns.Add((shape.GetName(i), shape.GetDataTypeName(i)));
        var stored = StoredColumns(columns);
        var select = string.Join(", ", columns.Select((column, i) =>
            $"q.c{i + 1}{(column.Type is "void" or "unknown" ? "::text" : "")} AS {Quote(stored[i].Name)}"));
        return (select, string.Join(", ", columns.Select((_, i) => $"c{i + 1}")));
    }

    /// <summary>The columns as the result table holds them: a repeated name gets a suffix, a type no table holds becomes text.</summary>
    private static List<ResultColumn> StoredColumns(List<(string Name, string Type)> columns)
    {
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        return [.. columns.Select(column =>
        {
            var name = seen.TryGetValue(column.Name, out var n) ? $"{column.Name}_{n + 1}" : column.Name;
            seen[column.Name] = n + 1;
            return new ResultColumn(name, column.Type is "void" or "unknown" ? "text" : column.Type);
        })];
    }

    /// <summary>
    /// The columns a query's rows would have (as they are stored), found with the user's login without running it;
    /// no columns for a statement that returns no rows, or PostgreSQL's error when it cannot be planned.
    /// </summary>
    public async Task<(IReadOnlyList<ResultColumn> Columns, QueryError? Error)> DescribeAsync(string userId, string sql, CancellationToken cancellationToken)
    {
        var statement = Prepare(Guid.Empty, userId, sql);
        if (!statement.IsQuery) return ([], null);
        const string prefix = "SELECT * FROM (\n";
        var login = await logins.PortalLoginAsync(userId, cancellationToken);
        try
        {
            await using var connection = await login.DataSource.OpenConnectionAsync(cancellationToken);
            await using var describe = new NpgsqlCommand(prefix + statement.Body + "\n) AS q", connection);
            await using var shape = await describe.ExecuteReaderAsync(System.Data.CommandBehavior.SchemaOnly, cancellationToken);
            var columns = new List<(string Name, string Type)>();
            for (var i = 0; i < shape.FieldCount; i++) columns.Add((shape.GetName(i), shape.GetDataTypeName(i)));
            return (StoredColumns(columns), null);
        }
        catch (PostgresException exception)
        {
            int? position = exception.Position > prefix.Length ? exception.Position - prefix.Length + statement.Leading : null;
            var (line, column) = position is { } p ? LineAndColumn(sql, p) : (null, null);
            return ([], new QueryError(exception.MessageText, exception.Detail, exception.Hint, exception.SqlState, position, line, column));
        }
    }

    /// <summary>
    /// The <paramref name="columns"/> of the user's query's rows, every row when there are at most
    /// <see cref="QueryChart.MaxRows"/> and otherwise rows evenly spaced through the result, in its order; null when
    /// the query is not the user's or has no stored rows. Unknown columns are refused by the caller, from <see cref="ViewAsync"/>'s columns.
    /// </summary>
    public async Task<ChartData?> SampleAsync(string userId, Guid id, IReadOnlyList<ResultColumn> columns, CancellationToken cancellationToken)
    {
        ExplorerQuery? query;
        await using (var scope = scopes.CreateAsyncScope())
            query = await scope.ServiceProvider.GetRequiredService<CatalogueDbContext>().Set<ExplorerQuery>().AsNoTracking()
                .FirstOrDefaultAsync(q => q.Id == id && q.UserId == userId, cancellationToken);
        if (query is not { Status: QueryStatus.Completed, ResultTable: { } table }) return null;

        var list = string.Join(", ", columns.Select(c => Quote(c.Name)));
        // While rows are still being stored their count is unknown: the chart shows the first ones.
        var step = query.Total is { } total && total > QueryChart.MaxRows ? (long)Math.Ceiling(total / (double)QueryChart.MaxRows) : 1;
        var sql = step == 1
            ? $"SET synchronize_seqscans = off; SELECT {list} FROM {table} LIMIT {QueryChart.MaxRows}"
            : $"SET synchronize_seqscans = off; SELECT {list} FROM (SELECT {list}, row_number() OVER () AS _dw_n FROM {table}) AS s WHERE (_dw_n - 1) % {step} = 0 LIMIT {QueryChart.MaxRows}";
        var login = await logins.PortalLoginAsync(userId, cancellationToken);
        await using var connection = await login.DataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand(sql, connection);
        var rows = new List<object?[]>();
        try
        {
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var row = new object?[reader.FieldCount];
                for (var i = 0; i < row.Length; i++) row[i] = JsonValue(reader, i);
                rows.Add(row);
            }
        }
        catch (PostgresException exception) when (exception.SqlState == PostgresErrorCodes.UndefinedTable)
        {
            return null;
        }

        return new ChartData(columns, rows, query.Total);
    }

    /// <summary>Runs a statement that returns no rows to keep (INSERT, CREATE...) as it is.</summary>
    private static async Task RunCommandAsync(Statement statement, NpgsqlConnection connection, RunResult run)
    {
        await using var batch = new NpgsqlBatch(connection) { Timeout = 0, BatchCommands = { new NpgsqlBatchCommand(statement.Body) } };
        await batch.ExecuteNonQueryAsync();
        // The command tag's count of rows changed.
        run.RowsAffected = (long)batch.BatchCommands[0].Rows;
        run.Status = QueryStatus.Completed;
    }

    /// <summary>Writes how the run ended on the query's record, with its audit entry, in one save.</summary>
    private async Task RecordAsync(Guid id, string userName, Actor actor, string sql, Statement statement, RunResult run, TimeSpan elapsed)
    {
        await using var scope = scopes.CreateAsyncScope();
        var catalogue = scope.ServiceProvider.GetRequiredService<CatalogueDbContext>();
        var query = await catalogue.Set<ExplorerQuery>().SingleAsync(q => q.Id == id);
        query.Status = run.Status;
        query.FinishedAt = time.GetUtcNow();
        query.DurationMs = (long)elapsed.TotalMilliseconds;
        query.Total = run.Total;
        query.RowsAffected = run.RowsAffected;
        query.ResultTable = run.Status == QueryStatus.Completed ? statement.Table : null;
        // Rows stored before a failure or a cancel are not a result: they go.
        if (run.Status != QueryStatus.Completed && statement.Table is { } table) await DropResultTableAsync(table, CancellationToken.None);
        if (run.Failure is { } failure) RecordError(query, statement, run, failure);

        var outcome = run.Status switch
        {
            QueryStatus.Completed when statement.IsQuery => $"{run.Total:N0} rows",
            QueryStatus.Completed => $"{run.RowsAffected:N0} rows changed",
            _ => run.Status.ToString().ToLowerInvariant() + (query.ErrorMessage is { } message ? ": " + message : ""),
        };
        scope.ServiceProvider.GetRequiredService<AuditLog>().Add(AuditActions.QueryRun, actor,
            $"{userName} ran a query in the Data Explorer: {outcome} in {elapsed.TotalSeconds:N1} s", details: sql);
        await catalogue.SaveChangesAsync();
    }

    /// <summary>PostgreSQL's error on the query, its position moved from the command that ran to the SQL the user wrote.</summary>
    private static void RecordError(ExplorerQuery query, Statement statement, RunResult run, PostgresException failure)
    {
        query.ErrorMessage = run.Status == QueryStatus.Failed && failure.SqlState == PostgresErrorCodes.QueryCanceled
            ? $"The query ran longer than the time limit and was stopped ({failure.MessageText}). Narrow it down, or ask for a tool for long work."
            : failure.MessageText;
        query.ErrorDetail = failure.Detail;
        query.ErrorHint = failure.Hint;
        query.ErrorCode = failure.SqlState;
        query.ErrorPosition = failure.Position > run.Prefix.Length && failure.Position <= run.Prefix.Length + statement.Body.Length
            ? failure.Position - run.Prefix.Length + statement.Leading
            : failure.Position > 0 && !statement.IsQuery ? failure.Position + statement.Leading : null;
    }

    private async Task DropResultTableAsync(string table, CancellationToken cancellationToken)
    {
        await using var drop = datasets.CreateCommand($"DROP TABLE IF EXISTS {table}");
        await drop.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Stores up to <paramref name="rows"/> more rows in one COPY (one commit); a failed read abandons that COPY.</summary>
    private static async Task StoreAsync(NpgsqlConnection writer, string table, BinaryCopyPipe pipe, long rows)
    {
        var into = await writer.BeginRawBinaryCopyAsync($"COPY {table} FROM STDIN (FORMAT binary)");
        try
        {
            await pipe.CopyAsync(into, rows, CancellationToken.None);
        }
        catch
        {
            // The query failed or was cancelled mid-way: end the import without committing it, keep the query's error.
            try
            {
                await into.CancelAsync();
            }
            catch (PostgresException)
            {
                // PostgreSQL confirms the abandoned import with an error of its own.
            }

            await into.DisposeAsync();
            throw;
        }

        await into.DisposeAsync();
    }

    /// <summary>Statements that return rows: those are kept for paging; anything else runs as it is.</summary>
    internal static bool IsQuery(string sql)
    {
        var text = sql.TrimStart();
        while (text.StartsWith("--") || text.StartsWith("/*"))
        {
            var end = text.StartsWith("--") ? text.IndexOf('\n') : text.IndexOf("*/", StringComparison.Ordinal);
            if (end < 0) return false;
            text = text[(end + (text.StartsWith("--") ? 1 : 2))..].TrimStart();
        }

        var word = new string([.. text.TakeWhile(char.IsLetter)]).ToUpperInvariant();
        return word is "SELECT" or "WITH" or "VALUES" or "TABLE" || text.StartsWith('(');
    }

    private async Task UpdateAsync(Guid id, Action<ExplorerQuery> change)
    {
        await using var scope = scopes.CreateAsyncScope();
        var catalogue = scope.ServiceProvider.GetRequiredService<CatalogueDbContext>();
        var query = await catalogue.Set<ExplorerQuery>().SingleAsync(q => q.Id == id);
        change(query);
        await catalogue.SaveChangesAsync();
    }

    /// <summary>The user's query (null when it is not theirs or does not exist) with page <paramref name="page"/> of its rows.</summary>
    public async Task<QueryView?> ViewAsync(string userId, Guid id, int page, CancellationToken cancellationToken)
    {
        ExplorerQuery? query;
        await using (var scope = scopes.CreateAsyncScope())
            query = await scope.ServiceProvider.GetRequiredService<CatalogueDbContext>().Set<ExplorerQuery>().AsNoTracking()
                .FirstOrDefaultAsync(q => q.Id == id && q.UserId == userId, cancellationToken);
        if (query is null) return null;
        query = await ReconcileAsync(query, cancellationToken);

        var columns = new List<ResultColumn>();
        var rows = new List<object?[]>();
        page = Math.Max(1, page);
        if (query is { Status: QueryStatus.Completed, ResultTable: { } table })
        {
            var login = await logins.PortalLoginAsync(userId, cancellationToken);
            await using var connection = await login.DataSource.OpenConnectionAsync(cancellationToken);
            // Without synchronised scans a sequential scan starts at the table's first block: pages keep their order.
            await using var command = new NpgsqlCommand($"SET synchronize_seqscans = off; SELECT * FROM {table} LIMIT {PageSize} OFFSET {(long)(page - 1) * PageSize}", connection);
            try
            {
                await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                for (var i = 0; i < reader.FieldCount; i++) columns.Add(new ResultColumn(reader.GetName(i), reader.GetDataTypeName(i)));
                while (await reader.ReadAsync(cancellationToken))
                {
                    var row = new object?[reader.FieldCount];
                    for (var i = 0; i < row.Length; i++) row[i] = JsonValue(reader, i);
                    rows.Add(row);
                }
            }
            catch (PostgresException exception) when (exception.SqlState == PostgresErrorCodes.UndefinedTable)
            {
                return View(query, page, columns, rows) with
                {
                    Status = "failed",
                    Error = new QueryError($"The rows of this query were cleared after {KeepResultsFor.TotalHours:N0} hours. Run it again.", null, null, null, null, null, null),
                };
            }
        }

        return View(query, page, columns, rows);
    }

    /// <summary>
    /// A query that says it is running but whose backend is gone (the replica running it stopped) is marked failed,
    /// so the page does not wait for it for ever. Queries running in this process are left alone.
    /// </summary>
    private async Task<ExplorerQuery> ReconcileAsync(ExplorerQuery query, CancellationToken cancellationToken)
    {
        var unfinished = query.Status == QueryStatus.Running || query is { Status: QueryStatus.Completed, ResultTable: not null, Total: null };
        if (!unfinished || running.ContainsKey(query.Id) || query.BackendPid is not { } pid || query.LoginRole is not { } role) return query;

        async Task<bool> BackendBusyAsync()
        {
            await using var command = datasets.CreateCommand("SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND usename = $2 AND state <> 'idle'");
            command.Parameters.Add(new NpgsqlParameter { Value = pid });
            command.Parameters.Add(new NpgsqlParameter { Value = role });
            return (long)(await command.ExecuteScalarAsync(cancellationToken))! > 0;
        }

        if (await BackendBusyAsync()) return query;
        // It may be finishing this instant on another replica: look again after a moment.
        await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);
        await using var scope = scopes.CreateAsyncScope();
        var catalogue = scope.ServiceProvider.GetRequiredService<CatalogueDbContext>();
        var current = await catalogue.Set<ExplorerQuery>().SingleAsync(q => q.Id == query.Id, cancellationToken);
        var stillUnfinished = current.Status == QueryStatus.Running || current is { Status: QueryStatus.Completed, ResultTable: not null, Total: null };
        if (!stillUnfinished || await BackendBusyAsync()) return current;

        if (current.ResultTable is { } table) await DropResultTableAsync(table, cancellationToken);

        current.Status = QueryStatus.Failed;
        current.ResultTable = null;
        current.FinishedAt = time.GetUtcNow();
        current.ErrorMessage = "The query stopped without an answer: the portal restarted while it ran. Run it again.";
        await catalogue.SaveChangesAsync(cancellationToken);
        logger.LogWarning("Data Explorer query {Id} was interrupted (its backend {Pid} is gone)", current.Id, pid);
        return current;
    }

    private static QueryView View(ExplorerQuery query, int page, List<ResultColumn> columns, List<object?[]> rows)
    {
        QueryError? error = null;
        if (query.ErrorMessage is { } message)
        {
            var (line, column) = query.ErrorPosition is { } position ? LineAndColumn(query.Sql, position) : ((int?)null, (int?)null);
            error = new QueryError(message, query.ErrorDetail, query.ErrorHint, query.ErrorCode, query.ErrorPosition, line, column);
        }

        return new QueryView(query.Id, query.Status.ToString().ToLowerInvariant(), query.Sql, query.StartedAt, query.DurationMs, columns, rows,
            page, PageSize, query.Total, query.RowsAffected, error);
    }

    /// <summary>1-based line and column of a 1-based character position.</summary>
    internal static (int? Line, int? Column) LineAndColumn(string text, int position)
    {
        var index = Math.Clamp(position - 1, 0, text.Length);
        var line = 1 + text.AsSpan(0, index).Count('\n');
        var lineStart = text.LastIndexOf('\n', Math.Max(0, index - 1)) + 1;
        if (index == 0) lineStart = 0;
        return (line, index - lineStart + 1);
    }

    private static object? JsonValue(DbDataReader reader, int ordinal)
    {
        if (reader.IsDBNull(ordinal)) return null;
        var value = reader.GetValue(ordinal);
        return value switch
        {
            bool or int or long or short or decimal or string => value,
            double d when double.IsFinite(d) => d,
            float f when float.IsFinite(f) => f,
            DateTime dateTime => dateTime.ToString("O", CultureInfo.InvariantCulture),
            DateTimeOffset offset => offset.ToString("O", CultureInfo.InvariantCulture),
            DateOnly date => date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
            byte[] bytes => Convert.ToBase64String(bytes),
            Array array => "{" + string.Join(",", array.Cast<object?>().Select(item => Convert.ToString(item, CultureInfo.InvariantCulture))) + "}",
            _ => Convert.ToString(value, CultureInfo.InvariantCulture),
        };
    }

    /// <summary>Cancels the user's running query wherever it runs; a query that has finished is left as it is.</summary>
    public async Task CancelAsync(string userId, Guid id, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var query = await scope.ServiceProvider.GetRequiredService<CatalogueDbContext>().Set<ExplorerQuery>().AsNoTracking()
            .FirstOrDefaultAsync(q => q.Id == id && q.UserId == userId, cancellationToken);
        var loading = query is { Status: QueryStatus.Completed, ResultTable: not null, Total: null };
        if (query is null || (query.Status != QueryStatus.Running && !loading)) return;
        if (running.TryGetValue(id, out var run))
        {
            // Run here: its own token cancels it whatever stage it is at.
            try
            {
                run.Stop.Cancel();
            }
            catch (ObjectDisposedException)
            {
                return; // It finished meanwhile.
            }

            // A cancel signal that reaches the backend just before its last statement starts is lost: send it again
            // until the run has ended.
            var deadline = Stopwatch.GetTimestamp() + 5 * Stopwatch.Frequency;
            while (!run.Whole.IsCompleted && Stopwatch.GetTimestamp() < deadline)
            {
                await Task.WhenAny(run.Whole, Task.Delay(TimeSpan.FromMilliseconds(300), cancellationToken));
                if (run.Whole.IsCompleted) break;
                if (await PidAsync(id, cancellationToken) is { } pid && query.LoginRole is { } role) await CancelBackendAsync(pid, role);
            }

            await WaitAsync(id, TimeSpan.FromSeconds(1), cancellationToken, untilComplete: true);
            return;
        }

        // Run by another replica: cancel its backend, again if the signal arrived between two of its statements.
        var until = Stopwatch.GetTimestamp() + 5 * Stopwatch.Frequency;
        do
        {
            if (query.BackendPid is { } pid && query.LoginRole is { } role) await CancelBackendAsync(pid, role);
            await WaitAsync(id, TimeSpan.FromSeconds(1), cancellationToken, untilComplete: true);
            if (await StateAsync(id, cancellationToken) is not { } state || (state.Status != QueryStatus.Running && !state.Loading)) return;
            query = await scope.ServiceProvider.GetRequiredService<CatalogueDbContext>().Set<ExplorerQuery>().AsNoTracking()
                .FirstAsync(q => q.Id == id, cancellationToken);
        }
        while (Stopwatch.GetTimestamp() < until);
    }

    private async Task<int?> PidAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<CatalogueDbContext>().Set<ExplorerQuery>().Where(q => q.Id == id)
            .Select(q => q.BackendPid).FirstOrDefaultAsync(cancellationToken);
    }

    private async Task CancelBackendAsync(int pid, string role)
    {
        try
        {
            // Only a backend of this user's login: a pid alone could by now belong to someone else's session.
            await using var command = datasets.CreateCommand("SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE pid = $1 AND usename = $2");
            command.Parameters.Add(new NpgsqlParameter { Value = pid });
            command.Parameters.Add(new NpgsqlParameter { Value = role });
            await command.ExecuteScalarAsync();
        }
        catch (Exception exception) when (exception is NpgsqlException or InvalidOperationException)
        {
            logger.LogWarning(exception, "Could not cancel the Data Explorer backend {Pid}", pid);
        }
    }

    /// <summary>EXPLAIN of the statement with the user's login: the plan's lines, or the error.</summary>
    public async Task<(string? Plan, QueryError? Error)> ExplainAsync(string userId, string? sql, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(sql)) throw new QueryRefusedException("Write a query first: the SQL was empty.");
        if (sql.Length > MaxSqlLength) throw new QueryRefusedException($"The query is {sql.Length:N0} characters long; the limit is {MaxSqlLength:N0}.");
        var login = await logins.PortalLoginAsync(userId, cancellationToken);
        const string prefix = "EXPLAIN ";
        var leading = sql.Length - sql.TrimStart().Length;
        var body = sql.Trim().TrimEnd(';');
        try
        {
            await using var command = login.DataSource.CreateCommand(prefix + body);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            var lines = new List<string>();
            while (await reader.ReadAsync(cancellationToken)) lines.Add(reader.GetString(0));
            return (string.Join('\n', lines), null);
        }
        catch (PostgresException exception)
        {
            int? position = exception.Position > prefix.Length ? exception.Position - prefix.Length + leading : null;
            var (line, column) = position is { } p ? LineAndColumn(sql, p) : (null, null);
            return (null, new QueryError(exception.MessageText, exception.Detail, exception.Hint, exception.SqlState, position, line, column));
        }
    }

    /// <summary>Opens the result table of a finished query of the user's for reading, or null.</summary>
    public async Task<(NpgsqlConnection Connection, string Table, ExplorerQuery Query)?> OpenResultAsync(string userId, Guid id, CancellationToken cancellationToken)
    {
        ExplorerQuery? query;
        await using (var scope = scopes.CreateAsyncScope())
            query = await scope.ServiceProvider.GetRequiredService<CatalogueDbContext>().Set<ExplorerQuery>().AsNoTracking()
                .FirstOrDefaultAsync(q => q.Id == id && q.UserId == userId, cancellationToken);
        // Only a whole result: one still being stored would download in part.
        if (query is not { Status: QueryStatus.Completed, ResultTable: { } table, Total: not null }) return null;
        var login = await logins.PortalLoginAsync(userId, cancellationToken);
        var connection = await login.DataSource.OpenConnectionAsync(cancellationToken);
        return (connection, table, query);
    }

    /// <summary>Drops result tables older than <see cref="KeepResultsFor"/>; their queries stay in the history.</summary>
    public async Task<int> DropOldResultsAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var catalogue = scope.ServiceProvider.GetRequiredService<CatalogueDbContext>();
        var before = time.GetUtcNow() - KeepResultsFor;
        var old = await catalogue.Set<ExplorerQuery>().Where(q => q.ResultTable != null && q.FinishedAt < before).Take(500).ToListAsync(cancellationToken);
        foreach (var query in old)
        {
            await DropResultTableAsync(query.ResultTable!, cancellationToken);
            query.ResultTable = null;
        }

        await catalogue.SaveChangesAsync(cancellationToken);
        return old.Count;
    }
}
