using System.Net;
using System.Text.Json;
using DataWorkspace.Contracts;
using DataWorkspace.Proxy.Tools;

namespace DataWorkspace.Proxy.Tests;

public sealed class ProgressPageTests
{
    [Fact]
    public void The_progress_page_lists_the_stages_in_words_and_follows_the_one_the_web_app_names()
    {
        var state = new ToolHostState("files-1a2b3c4d", "Files", ToolInstanceState.Spawning, Guid.NewGuid(), null, ToolStage.WaitingForTheApp,
            null, null, null, DateTimeOffset.UtcNow, []);

        var page = ProgressPage.Html(state);

        Assert.Contains("<ol class=\"govuk-list govuk-list--number\" id=\"stages\"><li data-stage=\"Queued\">Queued</li><li data-stage=\"Provisioning\">Provisioning</li>"
            + "<li data-stage=\"Pulling\">Pulling</li><li data-stage=\"Starting\">Starting</li><li data-stage=\"WaitingForTheApp\">Waiting for the app</li></ol>", page);
        var json = WebUtility.HtmlDecode(page[(page.IndexOf("data-state=\"", StringComparison.Ordinal) + 12)..]);
        using var sent = JsonDocument.Parse(json[..json.IndexOf("\">", StringComparison.Ordinal)]);
        Assert.Equal("WaitingForTheApp", sent.RootElement.GetProperty("stage").GetString());
        Assert.Equal("Spawning", sent.RootElement.GetProperty("state").GetString());
        Assert.Equal(state.Version, sent.RootElement.GetProperty("version").GetString());
    }

    [Fact]
    public void A_stopped_state_travels_with_its_cause_by_name_and_reads_back_the_same()
    {
        var state = new ToolHostState("files-1a2b3c4d", "Files", ToolInstanceState.Stopped, Guid.NewGuid(), null, null, null,
            "it stopped answering (ConnectionRefused)", ToolStopCause.StoppedAnswering, DateTimeOffset.UtcNow, [3000]);

        var json = JsonSerializer.Serialize(state, new JsonSerializerOptions(JsonSerializerDefaults.Web));

        Assert.Contains("\"stopCause\":\"StoppedAnswering\"", json);
        var read = JsonSerializer.Deserialize<ToolHostState>(json, new JsonSerializerOptions(JsonSerializerDefaults.Web))!;
        Assert.Equal((state.State, state.StopCause, state.Version), (read.State, read.StopCause, read.Version));
        Assert.Equal([3000], read.Ports);
    }
}
