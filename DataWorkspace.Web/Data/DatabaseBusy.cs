using Npgsql;

namespace DataWorkspace.Web.Data;

/// <summary>
/// A database that has no connection left for us (PostgreSQL's too_many_connections, 53300) is busy, not broken: the
/// request is answered 503 with Retry-After and a message saying to try again, instead of an empty 500. An API caller
/// gets problem+json; a page, the error page for 503.
/// </summary>
public static class DatabaseBusy
{
    public const int RetryAfterSeconds = 5;

    /// <summary>Whether the exception, or one inside it (EF Core wraps Npgsql's), says the server has no connection free.</summary>
    public static bool Is(Exception? exception)
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
                .LogWarning("{Method} {Path} answered 503: the database has no connection free ({Message})", context.Request.Method, context.Request.Path, exception.Message);
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
                    Title = "The database is busy",
                    Detail = $"Every connection to the database is in use for the moment: send the request again in {RetryAfterSeconds} seconds.",
                },
            });
        }
    }
}
