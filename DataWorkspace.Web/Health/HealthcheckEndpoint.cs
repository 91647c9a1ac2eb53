using DataWorkspace.Web.Data;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace DataWorkspace.Web.Health;

public static class HealthcheckEndpoint
{
    /// <summary>The original's <c>/healthcheck</c>: "OK" when the catalogue database answers, 503 with the reason when not.</summary>
    public static IEndpointRouteBuilder MapHealthcheck(this IEndpointRouteBuilder app)
    {
        app.MapGet("/healthcheck", async Task<ContentHttpResult> (CatalogueDbContext catalogue, ILogger<CatalogueDbContext> logger, CancellationToken cancellationToken) =>
        {
            try
            {
                await catalogue.Database.ExecuteSqlRawAsync("SELECT 1", cancellationToken);
                return TypedResults.Text("OK");
            }
            catch (Exception exception) when (exception is Npgsql.NpgsqlException or InvalidOperationException or TimeoutException)
            {
                logger.LogError(exception, "Health check: the catalogue database did not answer");
                return TypedResults.Text("The catalogue database is not answering", statusCode: StatusCodes.Status503ServiceUnavailable);
            }
        }).AllowAnonymous()
          .Produces<string>(StatusCodes.Status200OK, "text/plain")
          .Produces<string>(StatusCodes.Status503ServiceUnavailable, "text/plain");
        return app;
    }
}
