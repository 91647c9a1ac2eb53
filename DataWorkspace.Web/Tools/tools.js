// The Tools page (Tools/Pages/Tools/Index.cshtml) follows the user's tools as they start, run and stop, without a
// reload: it asks /api/v1/tools (the signed-in user's own tools only) often while one is starting, seldom otherwise,
// and not at all while the tab is hidden.
const rows = new Map([...document.querySelectorAll("tr[data-tool]")].map((row) => [row.dataset.tool, row]));
const live = document.querySelector("[data-testid=tools-live]");
const whileStarting = 2_000;
const whileSettled = 15_000;
const mostBetweenFailures = 60_000;
let timer;
let failures = 0;

const label = (tool) =>
  tool.instanceId == null
    ? tool.error != null || tool.lastStopReason != null ? ["Stopped", "govuk-tag--grey"] : ["Not running", "govuk-tag--grey"]
    : tool.state === "Spawning" ? ["Starting", ""] : ["Running", "govuk-tag--green"];

function detail(tool) {
  const [className, text, testId] =
    tool.instanceId != null
      ? tool.state === "Spawning" && tool.stage != null ? ["govuk-body-s", tool.stage, "tool-stage"] : []
      : tool.error != null ? ["govuk-error-message", `Last start failed: ${tool.error}`, "tool-error"]
        : tool.lastStopReason != null ? ["govuk-body-s", `Last stopped: ${tool.lastStopReason}`] : [];
  if (text === undefined) return [];
  const span = document.createElement("span");
  span.className = className;
  span.textContent = text;
  if (testId) span.dataset.testid = testId;
  return [document.createElement("br"), span];
}

function show(tool) {
  const row = rows.get(tool.hostBasename);
  if (!row) return;
  const [text, modifier] = label(tool);
  const tag = row.querySelector("[data-testid=tool-state-tag]");
  const changed = tag.textContent !== text;
  tag.textContent = text;
  tag.className = `govuk-tag ${modifier}`.trim();
  row.querySelector("[data-tool-detail]").replaceChildren(...detail(tool));
  row.querySelector("[data-tool-size]").textContent = tool.instanceId != null ? tool.size : "";
  const active = tool.instanceId != null;
  const instance = row.querySelector("[data-tool-instance]");
  if (instance) instance.value = tool.instanceId ?? "";
  // Only the buttons for what can be done now: Open and Stop while it is active, Start otherwise.
  for (const part of row.querySelectorAll("[data-tool-when]")) {
    part.hidden = (part.dataset.toolWhen === "active") !== active;
  }
  if (changed && live) live.textContent = `${row.dataset.name}: ${text.toLowerCase()}.`;
}

function schedule(delay) {
  clearTimeout(timer);
  if (document.visibilityState === "hidden") return;
  timer = setTimeout(refresh, delay);
}

async function refresh() {
  let tools;
  try {
    const response = await fetch("/api/v1/tools", { headers: { Accept: "application/json" }, credentials: "same-origin" });
    // Signed out or refused: a reload shows why, and polling would only repeat it.
    if (response.status === 401 || response.status === 403) return;
    if (!response.ok) throw new Error(`${response.status}`);
    tools = await response.json();
  } catch {
    failures++;
    schedule(Math.min(whileSettled * 2 ** failures, mostBetweenFailures));
    return;
  }

  failures = 0;
  tools.forEach(show);
  schedule(tools.some((tool) => tool.state === "Spawning") ? whileStarting : whileSettled);
}

if (rows.size > 0) {
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") refresh();
    else clearTimeout(timer);
  });
  schedule(whileStarting);
}
