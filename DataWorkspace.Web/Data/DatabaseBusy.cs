using Npgsql;

namespace DataWorkspace.Web.Data;

/// <summary>
/// A database that has no connection left for us (PostgreSQL's too_many_connections, 53300), or that is restarting or
/// cannot be reached, is unavailable for the moment, not broken: the request is answered 503 with Retry-After and a
/// message saying to try again, instead of an empty 500. An API caller gets problem+json; a page, the error page for 503.
/// </summary>
public static class DatabaseBusy
{
    public const int RetryAfterSeconds = 5;

    /// <summary>
    /// Whether the exception, or one inside it (EF Core wraps Npgsql's), says the server has no connection free, is
    /// shutting down or starting, or cannot be reached (Npgsql's transient failures: a refused or broken connection, a
    /// pool that timed out).
    /// </summary>
    public static bool Is(Exception? exception)
    {
        for (; exception is not null; exception = exception.InnerException)
        {
            if (exception is PostgresException { SqlState: PostgresErrorCodes.TooManyConnections or PostgresErrorCodes.AdminShutdown or PostgresErrorCodes.CrashShutdown or PostgresErrorCodes.CannotConnectNow })
                return true;
            if (exception is NpgsqlException { IsTransient: true } and not PostgresException) return true;
        }
        return false;
    }

    private static bool IsFull(Exception? exception)
    {
        for (; exception is not null; exception = exception.InnerException)
            if (exception is PostgresException { SqlState: PostgresErrorCodes.TooManyConnections }) return true;
        return false;
    }

    public static IApplicationBuilder UseDatabaseBusyAnswers(this IApplicationBuilder app) => app.Use(AnswerAsync);

    public static async Task AnswerAsync(HttpContext context, RequestDelegate next)
    {
        try
        {
            await next(context);
        }
        catch (Exception exception) when (Is(exception) && !context.Response.HasStarted)
        {
            context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(DatabaseBusy))
                .LogWarning("{Method} {Path} answered 503: the database is unavailable ({Message})", context.Request.Method, context.Request.Path, exception.Message);
            context.Response.Clear();
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            context.Response.Headers.RetryAfter = RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (!context.Request.Path.StartsWithSegments("/api")) return;
            await context.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
            {
                HttpContext = context,
                ProblemDetails =
                {
                    Status = StatusCodes.Status503ServiceUnavailable,
                    Title = IsFull(exception) ? "The database is busy" : "The database is not answering",
                    Detail = IsFull(exception)
                        ? $"Every connection to the database is in use for the moment: send the request again in {RetryAfterSeconds} seconds."
                        : $"The platform's database is restarting or cannot be reached: send the request again in {RetryAfterSeconds} seconds. If this goes on for minutes, tell the platform team.",
                },
            });
        }
    }
}
