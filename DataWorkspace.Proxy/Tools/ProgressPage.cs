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

    /// <param name="portalHome">The portal's home page as a link from the tool's host.</param>
    /// <param name="framed">Shown in a wrapped tool's frame, under the portal's header: without one of its own.</param>
    public static string Html(ToolHostState state, string portalHome = "/", bool framed = false)
    {
        var name = WebUtility.HtmlEncode(state.TemplateName);
        var json = WebUtility.HtmlEncode(JsonSerializer.Serialize(state, new JsonSerializerOptions(JsonSerializerDefaults.Web)));
        var tools = WebUtility.HtmlEncode(portalHome.TrimEnd('/') + "/tools");
        // The hidden parts are wrapped: GOV.UK's components set their own display, which would override "hidden".
        return ProxyPages.Page($"Starting {state.TemplateName}", portalHome, $"""
            <div class="govuk-grid-row"><div class="govuk-grid-column-two-thirds" id="progress" data-state="{json}">
            <h1 class="govuk-heading-l">Starting your {name}</h1>
            <p class="govuk-body">This page opens it by itself as soon as it is ready. You can leave it: it carries on starting.</p>
            <p class="govuk-body"><span role="status" aria-live="polite" id="status">Starting…</span> <span id="elapsed">0</span> seconds so far.</p>
            <ol class="govuk-list govuk-list--number" id="stages">{StageItems}</ol>
            <div id="slow" hidden><div class="govuk-inset-text">This is taking longer than usual. It will open by itself when it is ready.</div></div>
            <div id="failed" hidden><div class="govuk-error-summary"><div role="alert"><h2 class="govuk-error-summary__title">Your {name} did not start</h2>
            <div class="govuk-error-summary__body"><p class="govuk-body" id="error"></p><p class="govuk-body"><a class="govuk-link" id="retry" href="">Try again</a></p></div></div></div></div>
            <p class="govuk-body"><a class="govuk-link" href="{tools}" target="_top">Go to your tools</a></p>
            </div></div>
            """, $"""

            <noscript><meta http-equiv="refresh" content="3"></noscript>
            <script src="{ToolEntry.OwnPrefix}/progress.js" defer></script>
            """, framed);
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
            // The stage under way in bold, those done in the secondary text colour.
            stages.forEach((li, i) => { li.className = i < at ? 'govuk-hint govuk-!-margin-bottom-1' : i === at ? 'govuk-!-font-weight-bold' : ''; if (i === at) li.setAttribute('aria-current', 'step'); else li.removeAttribute('aria-current'); });
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
