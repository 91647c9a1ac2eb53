using System.CommandLine;

namespace DataWorkspace.Sidecars;

/// <summary><c>healthcheck --url URL</c>: exit 0 when the URL answers 2xx within the timeout, 1 otherwise (for container health checks).</summary>
public static class HealthcheckCommand
{
    public static Command Create()
    {
        var url = new Option<string>("--url") { Description = "The address to check, e.g. http://127.0.0.1:8888/healthcheck", Required = true };
        url.Validators.Add(result =>
        {
            var value = result.GetValueOrDefault<string>();
            if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
                result.AddError($"--url must be an absolute http or https address; '{value}' is not.");
        });
        var timeout = new Option<int>("--timeout-seconds") { Description = "How long to wait for an answer", DefaultValueFactory = _ => 5 };
        var command = new Command("healthcheck", "Checks that a local HTTP endpoint answers with success; for container health checks.") { url, timeout };
        command.SetAction(async (parseResult, cancellationToken) =>
        {
            var target = new Uri(parseResult.GetValue(url)!);
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(parseResult.GetValue(timeout)) };
            try
            {
                using var response = await http.GetAsync(target, cancellationToken);
                Console.WriteLine($"{target} answered {(int)response.StatusCode} {response.ReasonPhrase}");
                return response.IsSuccessStatusCode ? 0 : 1;
            }
            catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException)
            {
                Console.Error.WriteLine($"{target} did not answer: {exception.Message}");
                return 1;
            }
        });
        return command;
    }
}
