using System.CommandLine;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace DataWorkspace.Sidecars;

/// <summary>
/// <c>healthcheck-server --check-url URL</c>: what an external uptime monitor calls, as in Data Workspace. GET /check
/// answers 200 when the portal (the web app's health endpoint) does, 503 otherwise; GET /check_alb answers 200 as long
/// as this server runs (the load balancer's own check of it).
/// </summary>
public static class HealthcheckServerCommand
{
    public const string CheckPath = "/check";
    public const string LoadBalancerCheckPath = "/check_alb";

    public static Command Create()
    {
        var listen = new Option<string>("--listen")
        {
            Description = "The address and port to serve on [env HEALTHCHECK_LISTEN]",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("HEALTHCHECK_LISTEN") is { Length: > 0 } value ? value : "0.0.0.0:8080",
        };
        var checkUrl = new Option<string?>("--check-url")
        {
            Description = "The health endpoint GET /check asks, e.g. http://web.dataworkspace.internal:8080/health [env HEALTHCHECK_CHECK_URL]",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("HEALTHCHECK_CHECK_URL"),
        };
        var timeout = new Option<int>("--timeout-seconds") { Description = "How long /check waits for the portal's answer", DefaultValueFactory = _ => 5 };
        var command = new Command("healthcheck-server", "Serves GET /check (200 when the portal's health endpoint answers 2xx, 503 otherwise) and GET /check_alb (200), for an external uptime monitor.")
        {
            listen, checkUrl, timeout,
        };
        command.SetAction(async (parseResult, cancellationToken) =>
        {
            var problems = new List<string>();
            if (!IPEndPoint.TryParse(parseResult.GetValue(listen) ?? "", out var endpoint) || endpoint.Port == 0)
                problems.Add($"--listen must be ADDRESS:PORT, e.g. 0.0.0.0:8080; '{parseResult.GetValue(listen)}' is not.");
            var target = parseResult.GetValue(checkUrl);
            if (!Uri.TryCreate(target, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
                problems.Add($"--check-url (or HEALTHCHECK_CHECK_URL) must be an absolute http or https address; '{target}' is not.");
            if (problems.Count > 0) return SidecarHosting.BadSettings(problems, "healthcheck-server");

            using var host = Build(endpoint!, uri!, TimeSpan.FromSeconds(parseResult.GetValue(timeout)));
            return await SidecarHosting.RunAsync(host, $"healthcheck-server cannot listen on {endpoint}", cancellationToken);
        });
        return command;
    }

    /// <summary>The server, not yet started.</summary>
    public static IHost Build(IPEndPoint listen, Uri checkUrl, TimeSpan timeout) => SidecarHosting.Build(
        listen,
        new SidecarTelemetry("healthcheck", "DataWorkspace.Sidecars.Healthcheck"),
        builder => builder.Services.AddHttpClient("check", client => client.Timeout = timeout),
        app =>
        {
            app.MapGet(LoadBalancerCheckPath, () => TypedResults.Text("OK"));
            app.MapGet(CheckPath, async (IHttpClientFactory clients, CancellationToken cancellationToken) =>
            {
                try
                {
                    using var response = await clients.CreateClient("check").GetAsync(checkUrl, cancellationToken);
                    return response.IsSuccessStatusCode
                        ? Results.Text("OK")
                        : Results.Text($"The portal answered {(int)response.StatusCode}", statusCode: StatusCodes.Status503ServiceUnavailable);
                }
                catch (Exception exception) when ((exception is HttpRequestException or TaskCanceledException) && !cancellationToken.IsCancellationRequested)
                {
                    return Results.Text("The portal did not answer", statusCode: StatusCodes.Status503ServiceUnavailable);
                }
            });
        });
}
