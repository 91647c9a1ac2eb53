using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;

namespace DataWorkspace.AppHost.Infrastructure;

/// <summary>
/// The dashboard's commands on the web resource: run the permission sync now, cull idle tools now, reload the demo data.
/// Each calls the web app's operations API (<c>/internal/v1/operations</c>) with the key the AppHost generated and gave
/// the web app as <c>Operations__Key</c>, and shows the web app's answer.
/// </summary>
public static class OperationCommands
{
    public const string PermissionSync = "run-permission-sync";
    public const string CullIdleTools = "cull-idle-tools";
    public const string ReloadDemoData = "reload-demo-data";
    private const string Prefix = "/internal/v1/operations/";
    private static readonly HttpClient Client = new() { Timeout = TimeSpan.FromMinutes(5) };

    public static IResourceBuilder<ProjectResource> WithOperationCommands(this IResourceBuilder<ProjectResource> web, IResourceBuilder<ParameterResource> key)
    {
        web.WithEnvironment("Operations__Key", key);
        Command(web, key, PermissionSync, "Run the permission sync now", "permission-sync", "ArrowSync",
            "Makes the datasets database's roles and grants match the catalogue at once, rather than at the next change or round of the data access job.");
        Command(web, key, CullIdleTools, "Cull idle tools now", "cull-idle-tools", "Broom",
            "Stops the tools that are idle, past their lifetime or left starting at once, rather than at the culling job's next round.");
        Command(web, key, ReloadDemoData, "Reload the demo data", "demo-data", "DatabaseArrowUp",
            "Adds the demo datasets that are missing and fills demo tables that were emptied; changed or added entries are left alone.");
        return web;
    }

    private static void Command(IResourceBuilder<ProjectResource> web, IResourceBuilder<ParameterResource> key, string name, string displayName, string path,
        string icon, string description)
    {
        var endpoint = web.GetEndpoint("http");
        web.WithCommand(name, displayName, async context =>
        {
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(new Uri(endpoint.Url), Prefix + path))
                {
                    Content = new StringContent("{}", Encoding.UTF8, "application/json"),
                };
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", await key.Resource.GetValueAsync(context.CancellationToken));
                using var response = await Client.SendAsync(request, context.CancellationToken);
                var answer = await AnswerAsync(response, context.CancellationToken);
                context.Logger.LogInformation("{Command}: {Answer}", displayName, answer);
                return response.IsSuccessStatusCode
                    ? new ExecuteCommandResult { Success = true, Message = answer }
                    : CommandResults.Failure($"The web app answered {(int)response.StatusCode}: {answer}");
            }
            catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException && !context.CancellationToken.IsCancellationRequested)
            {
                return CommandResults.Failure($"The web app could not be reached: {exception.Message}");
            }
        }, new CommandOptions
        {
            Description = description,
            IconName = icon,
            // Only a web app that answers can do it.
            UpdateState = state => state.ResourceSnapshot.HealthStatus == HealthStatus.Healthy ? ResourceCommandState.Enabled : ResourceCommandState.Disabled,
        });
    }

    /// <summary>The web app's message, or a problem's detail.</summary>
    private static async Task<string> AnswerAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        try
        {
            using var json = JsonDocument.Parse(text);
            foreach (var property in new[] { "message", "detail", "title" })
                if (json.RootElement.TryGetProperty(property, out var value) && value.GetString() is { Length: > 0 } words) return words;
        }
        catch (JsonException)
        {
            // Not JSON: the text itself says what happened.
        }

        return text.Length > 500 ? text[..500] : text;
    }
}
