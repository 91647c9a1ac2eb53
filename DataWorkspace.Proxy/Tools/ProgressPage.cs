using System.Net;
using System.Text.Json;
using DataWorkspace.Contracts;

namespace DataWorkspace.Proxy.Tools;

/// <summary>
/// The page shown (HTTP 202) while a tool starts: its stages, live from server-sent events, the time so far, a note
/// when it is slower than usual, and the error with "Try again" when it fails. It moves on by itself the moment the
/// tool answers. Its script is served from the tool's host, so the portal's strict policy applies unchanged.
/// </summary>
public static class ProgressPage
{
    // Each stage by its name, as the state's JSON gives it to the script, and in the words people read.
    private static readonly string StageItems = string.Concat(Enum.GetValues<ToolStage>().Select(stage =>
        $"<li data-stage=\"{stage}\">{WebUtility.HtmlEncode(Capitalised(stage.Words()))}</li>"));

    private static string Capitalised(string words) => char.ToUpperInvariant(words[0]) + words[1..];

    public static string Html(ToolHostState state)
    {
        var name = WebUtility.HtmlEncode(state.TemplateName);
        var json = WebUtility.HtmlEncode(JsonSerializer.Serialize(state, new JsonSerializerOptions(JsonSerializerDefaults.Web)));
        return $"""
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>Starting {name} - Data Workspace</title>
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <noscript><meta http-equiv="refresh" content="3"></noscript>
            <script src="{ToolEntry.OwnPrefix}/progress.js" defer></script></head>
            <body>
            <main id="progress" data-state="{json}">
            <h1>Starting your {name}</h1>
            <p role="status" aria-live="polite" id="status">Starting… <span id="elapsed">0</span> s</p>
            <ol id="stages">{StageItems}</ol>
            <p id="slow" hidden>This is taking longer than usual. It will open by itself when it is ready.</p>
            <div id="failed" hidden><p id="error" role="alert"></p><p><a id="retry" href="">Try again</a></p></div>
            </main>
            </body></html>
            """;
    }

    public const string Script = """
        (() => {
          const main = document.getElementById('progress');
          let state = JSON.parse(main.dataset.state);
          const started = state.startedAt ? Date.parse(state.startedAt) : Date.now();
          const elapsed = document.getElementById('elapsed');
          const tick = setInterval(() => {
            const seconds = Math.max(0, Math.round((Date.now() - started) / 1000));
            elapsed.textContent = seconds;
            if (seconds >= 30) document.getElementById('slow').hidden = false;
          }, 500);
          const show = s => {
            state = s;
            const stages = [...document.querySelectorAll('#stages li')];
            const at = stages.findIndex(li => li.dataset.stage === s.stage);
            stages.forEach((li, i) => { li.className = i < at ? 'done' : i === at ? 'current' : ''; if (i === at) li.setAttribute('aria-current', 'step'); else li.removeAttribute('aria-current'); });
          };
          show(state);
          const events = new EventSource('/_dataworkspace/events?since=' + encodeURIComponent(state.version));
          events.addEventListener('state', e => show(JSON.parse(e.data)));
          events.addEventListener('ready', () => { events.close(); clearInterval(tick); document.getElementById('status').textContent = 'Ready: opening…'; location.reload(); });
          events.addEventListener('failed', e => {
            events.close(); clearInterval(tick);
            const s = JSON.parse(e.data);
            document.getElementById('status').textContent = 'It did not start.';
            document.getElementById('error').textContent = s.error || s.stopReason || 'It stopped while starting.';
            document.getElementById('retry').href = location.href;
            document.getElementById('failed').hidden = false;
            document.getElementById('slow').hidden = true;
          });
        })();
        """;
}
