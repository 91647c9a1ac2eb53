using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using DataWorkspace.TestSupport;

namespace DataWorkspace.Bench.Fuzz;

/// <summary>
/// Malformed and odd SQL, and malformed requests, at POST /api/v1/explorer/run (and the poll's query values): a problem
/// (4xx) or a query that failed with PostgreSQL's error is right, a 5xx never is.
/// </summary>
public sealed class ExplorerFuzz(Tally tally, Mutator mutator)
{
    private const int Workers = 4;

    private static readonly string[] Seeds =
    [
        "select 1",
        "select code, name from reference.countries where region = 'Europe' order by name limit 10",
        "with t as (select generate_series(1, 100) as n) select n, n * 2 as twice from t where n % 3 = 0",
        "select now()::date, 'text' as label, 1.5::numeric, true, null",
        "select table_schema, table_name from information_schema.tables order by 1, 2 limit 20",
        "select count(*) from (values (1, 'a'), (2, 'b')) as v(id, name)",
        "select json_build_object('a', 1, 'b', array[1,2,3])",
    ];

    private static List<(string Name, string Body)> Known()
    {
        string Run(string sql, double wait = 3) => JsonSerializer.Serialize(new { sql, wait });
        return
        [
            ("empty", Run("")),
            ("whitespace", Run(" \t\r\n ")),
            ("keyword alone", Run("select")),
            ("unterminated string", Run("select 'abc")),
            ("unterminated identifier", Run("select \"abc")),
            ("unterminated dollar quote", Run("select $$abc")),
            ("unterminated comment", Run("select 1 /* ")),
            ("two statements", Run("select 1; select 2")),
            ("empty statements", Run(";;;")),
            ("transaction", Run("begin; select 1; commit")),
            ("copy to program", Run("copy (select 1) to program 'id'")),
            ("set role", Run("set role postgres")),
            ("reset session authorization", Run("reset session authorization")),
            ("sleep", Run("select pg_sleep(60)", wait: 1)),
            ("nesting 10,000 deep", Run("select " + new string('(', 10_000) + "1" + new string(')', 10_000))),
            ("nesting 49,000 deep", Run("select " + new string('(', 49_000) + "1" + new string(')', 49_000))),
            ("100,001 characters", Run("select 1" + new string(' ', 100_000 - 7))),
            ("just under the limit", Run("select " + string.Join("+", Enumerable.Repeat("1", 49_990)))),
            ("identifier 10,000 long", Run($"select 1 as {new string('a', 10_000)}")),
            ("quoted identifier 10,000 long", Run($"select 1 as \"{new string('a', 10_000)}\"")),
            ("table name 10,000 long", Run($"select * from {new string('t', 10_000)}")),
            ("unicode", Run("select 'd\u00e4ta \U0001F600 \u202E\u200D' as \"\u00e9\u00e8\"")),
            ("NUL in a string", Run("select 'a\u0000b'")),
            ("NUL alone", Run("\u0000")),
            ("NUL in an identifier", Run("select 1 as \"a\u0000b\"")),
            ("lone surrogate", "{\"sql\":\"select '\\ud800'\",\"wait\":3}"),
            ("number out of range", Run("select 1e999999")),
            ("division by zero", Run("select 1/0")),
            ("parameter", Run("select $1")),
            ("prepare", Run("prepare x as select 1")),
            ("explain analyze", Run("explain analyze select 1")),
            ("psql meta-command", Run("\\gexec")),
            ("lo_import", Run("select lo_import('/etc/passwd')")),
            ("raise", Run("do $$ begin raise exception 'boom %', repeat('x', 10000); end $$")),
            ("bad collation", Run("select 'a' collate \"nope\"")),
            ("bytea", Run("select '\\x00ff'::bytea, '\\xzz'::bytea")),
            ("column names repeated", Run("select 1 as a, 2 as a, 3 as a")),
            ("odd types", Run("select interval '1 day', point(1,2), '{1,2}'::int[], 'infinity'::timestamp, 'NaN'::float8, '-infinity'::date, tsvector 'a b', '00000000-0000-0000-0000-000000000000'::uuid")),
            ("1,600 columns", Run("select " + string.Join(",", Enumerable.Range(0, 1600).Select(i => $"{i} as c{i}")))),
            ("huge value", Run("select repeat('x', 20000000)")),
            ("wait 1e308", "{\"sql\":\"select 1\",\"wait\":1e308}"),
            ("wait -1e308", "{\"sql\":\"select 1\",\"wait\":-1e308}"),
            ("wait 1e20", "{\"sql\":\"select 1\",\"wait\":1e20}"),
            ("wait as text", "{\"sql\":\"select 1\",\"wait\":\"NaN\"}"),
            ("sql as number", "{\"sql\":5}"),
            ("sql null", "{\"sql\":null}"),
            ("sql as array", "{\"sql\":[\"select 1\"]}"),
            ("empty object", "{}"),
            ("array", "[]"),
            ("empty body", ""),
            ("not JSON", "select 1"),
            ("JSON nested 10,000 deep", new string('[', 10_000) + new string(']', 10_000)),
            ("duplicate keys", "{\"sql\":\"select 1\",\"sql\":\"select 2\",\"wait\":3}"),
            ("trailing garbage", "{\"sql\":\"select 1\",\"wait\":3}xyz"),
            ("invalid UTF-8", "{\"sql\":\"select '\u00c0\u00af'\",\"wait\":3}"),
        ];
    }

    public async Task RunAsync(PortalClient client, TimeSpan duration, int maxCases, CancellationToken cancellationToken)
    {
        var until = DateTime.UtcNow + duration;
        var known = Known();
        var next = 0;
        var generate = new Lock();
        await Task.WhenAll(Enumerable.Range(0, Workers).Select(_ => Task.Run(async () =>
        {
            while (DateTime.UtcNow < until && !cancellationToken.IsCancellationRequested)
            {
                (string Name, byte[] Body) work;
                lock (generate)
                {
                    if (next >= maxCases) return;
                    var index = next++;
                    work = index < known.Count ? ("known: " + known[index].Name, Bytes(known[index].Body))
                        : index % 10 == 0 ? PollCase() : RandomCase();
                }
                if (work.Name.StartsWith("poll", StringComparison.Ordinal)) await PollAsync(client, work.Name, Encoding.UTF8.GetString(work.Body), cancellationToken);
                else await RunOneAsync(client, work.Name, work.Body, cancellationToken);
            }
        }, cancellationToken)));
    }

    private static byte[] Bytes(string text) =>
        text.Any(c => c is > '\u007f' and <= '\u00ff') && !text.Any(c => c > '\u00ff') ? Encoding.Latin1.GetBytes(text) : Encoding.UTF8.GetBytes(text);

    private (string, byte[]) RandomCase()
    {
        var sql = mutator.Pick(Seeds);
        for (var i = mutator.Next(1, 3); i > 0; i--) sql = mutator.Mutate(sql);
        if (mutator.Chance(0.1)) sql = string.Concat(Enumerable.Repeat(sql + ";", mutator.Next(2, 50)));
        if (mutator.Chance(0.1)) sql = new string('(', mutator.Next(1, 3000)) + sql;
        return ($"mutated SQL", Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new { sql, wait = 3 })));
    }

    private (string, byte[]) PollCase()
    {
        var query = mutator.Pick(new[] { "page=-5", "page=0", "page=2147483647", "page=99999999999", "wait=1e308", "wait=NaN", "wait=-1", "wait=Infinity", "page=1&page=2", "page=%00" });
        return ($"poll ?{query}", Encoding.UTF8.GetBytes(query));
    }

    private async Task RunOneAsync(PortalClient client, string name, byte[] body, CancellationToken cancellationToken)
    {
        tally.Sending();
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        try
        {
            using var response = await client.Http.PostAsync("/api/v1/explorer/run", content, cancellationToken);
            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            await ClassifyAsync(client, name, body, (int)response.StatusCode, text, cancellationToken);
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            tally.Outcome("no answer");
            tally.Found("5xx", name, $"no answer: {exception.Message}", body);
        }
    }

    private async Task ClassifyAsync(PortalClient client, string name, byte[] body, int status, string text, CancellationToken cancellationToken)
    {
        if (status >= 500)
        {
            tally.Outcome("5xx");
            tally.Found("5xx", name, $"{status}: {text[..Math.Min(text.Length, 400)]}", body);
            return;
        }
        if (status >= 400)
        {
            tally.Outcome("4xx");
            if (!text.Contains("\"detail\"", StringComparison.Ordinal) && !text.Contains("\"errors\"", StringComparison.Ordinal))
                tally.Found("unclear 4xx", name, $"{status} without a problem's detail: {text[..Math.Min(text.Length, 300)]}", body);
            return;
        }
        using var json = JsonDocument.Parse(text);
        var state = json.RootElement.GetProperty("status").GetString();
        tally.Outcome(state switch { "completed" => "ran", "failed" => "query error", "running" => "still running (cancelled)", _ => state ?? "?" });
        if (state == "running")
        {
            using var cancel = await client.Http.PostAsync($"/api/v1/explorer/queries/{json.RootElement.GetProperty("id").GetString()}/cancel", null, cancellationToken);
        }
        lastId = json.RootElement.GetProperty("id").GetString();
    }

    private string? lastId;

    private async Task PollAsync(PortalClient client, string name, string query, CancellationToken cancellationToken)
    {
        tally.Sending();
        var id = lastId ?? Guid.Empty.ToString();
        try
        {
            using var response = await client.Http.GetAsync($"/api/v1/explorer/queries/{id}?{query}", cancellationToken);
            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            var status = (int)response.StatusCode;
            tally.Outcome($"{status / 100}xx");
            if (status >= 500) tally.Found("5xx", name, $"{status}: {text[..Math.Min(text.Length, 400)]}", $"GET /api/v1/explorer/queries/{id}?{query}");
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            tally.Outcome("no answer");
            tally.Found("5xx", name, $"no answer: {exception.Message}", query);
        }
    }
}
