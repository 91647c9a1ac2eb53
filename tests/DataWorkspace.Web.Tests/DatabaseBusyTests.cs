using System.Text.Json;
using DataWorkspace.Web.Data;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace DataWorkspace.Web.Tests;

/// <summary>A database with no connection free (every user's login has its own pool) answers 503 saying to retry, not an empty 500.</summary>
public sealed class DatabaseBusyTests
{
    private static readonly PostgresException TooManyClients = new("sorry, too many clients already", "FATAL", "FATAL", PostgresErrorCodes.TooManyConnections);

    private static async Task<(HttpContext Context, string Body)> AnswerAsync(string path, Exception thrown)
    {
        var services = new ServiceCollection().AddLogging().AddProblemDetails().BuildServiceProvider();
        var context = new DefaultHttpContext { RequestServices = services };
        context.Request.Path = path;
        context.Response.Body = new MemoryStream();
        await DatabaseBusy.AnswerAsync(context, _ => throw thrown);
        context.Response.Body.Position = 0;
        return (context, await new StreamReader(context.Response.Body).ReadToEndAsync());
    }

    [Fact]
    public async Task An_api_call_gets_a_503_problem_with_retry_after()
    {
        // EF Core wraps Npgsql's exception: the cause inside is what counts.
        var (context, body) = await AnswerAsync("/api/v1/explorer/run", new InvalidOperationException("An exception was thrown", TooManyClients));

        Assert.Equal(StatusCodes.Status503ServiceUnavailable, context.Response.StatusCode);
        Assert.Equal("5", context.Response.Headers.RetryAfter.ToString());
        using var problem = JsonDocument.Parse(body);
        Assert.Equal("The database is busy", problem.RootElement.GetProperty("title").GetString());
        Assert.Contains("send the request again", problem.RootElement.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task A_page_gets_a_503_for_the_error_page()
    {
        var (context, body) = await AnswerAsync("/datasets", TooManyClients);

        Assert.Equal(StatusCodes.Status503ServiceUnavailable, context.Response.StatusCode);
        Assert.Equal("5", context.Response.Headers.RetryAfter.ToString());
        Assert.Empty(body);
    }

    [Fact]
    public async Task A_database_that_is_down_or_restarting_gets_a_503_saying_to_retry()
    {
        // What Npgsql throws when nothing listens where the database should be.
        await using var nowhere = new NpgsqlConnection($"Host=127.0.0.1;Port={DataWorkspace.TestSupport.Ports.Free()};Username=x;Password=x;Timeout=2");
        var refused = await Assert.ThrowsAnyAsync<NpgsqlException>(() => nowhere.OpenAsync(TestContext.Current.CancellationToken));
        var shuttingDown = new PostgresException("terminating connection due to administrator command", "FATAL", "FATAL", PostgresErrorCodes.AdminShutdown);
        var starting = new PostgresException("the database system is starting up", "FATAL", "FATAL", PostgresErrorCodes.CannotConnectNow);

        foreach (var thrown in new Exception[] { refused, new InvalidOperationException("An exception was thrown", shuttingDown), starting })
        {
            var (context, body) = await AnswerAsync("/api/v1/files/uploads", thrown);

            Assert.Equal(StatusCodes.Status503ServiceUnavailable, context.Response.StatusCode);
            Assert.Equal("5", context.Response.Headers.RetryAfter.ToString());
            using var problem = JsonDocument.Parse(body);
            Assert.Equal("The database is not answering", problem.RootElement.GetProperty("title").GetString());
            Assert.Contains("send the request again in 5 seconds", problem.RootElement.GetProperty("detail").GetString());
        }
    }

    [Fact]
    public async Task Other_failures_are_not_called_busy()
    {
        var other = new PostgresException("relation does not exist", "ERROR", "ERROR", PostgresErrorCodes.UndefinedTable);

        var thrown = await Assert.ThrowsAsync<PostgresException>(() => AnswerAsync("/api/v1/explorer/run", other));

        Assert.Same(other, thrown);
    }
}
