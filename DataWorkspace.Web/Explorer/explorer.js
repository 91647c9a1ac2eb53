// Data Explorer: a CodeMirror SQL editor over the explorer's JSON API, bundled by esbuild into /dist/explorer.js.
// Text from users and databases is only ever set with textContent.
import { Compartment, EditorState, Prec } from "@codemirror/state";
import {
  EditorView, drawSelection, highlightActiveLine, highlightActiveLineGutter, highlightSpecialChars, keymap, lineNumbers,
} from "@codemirror/view";
import { defaultKeymap, history, historyKeymap } from "@codemirror/commands";
import { bracketMatching, defaultHighlightStyle, indentOnInput, syntaxHighlighting } from "@codemirror/language";
import { PostgreSQL, sql } from "@codemirror/lang-sql";
import { autocompletion, closeBrackets, closeBracketsKeymap, completionKeymap } from "@codemirror/autocomplete";
import { createChartPanel } from "./chart-panel.js";

const apiRoot = "/api/v1/explorer";
const pollSeconds = 10;
const numbers = new Intl.NumberFormat("en-GB");
const numericTypes = /^(smallint|integer|bigint|numeric|real|double precision|int[248]|float[48]|decimal|money)\b/;

const byTestId = (id) => document.querySelector(`[data-testid="${id}"]`);
const element = (tag, className, text) => {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
};

const ui = {
  form: document.getElementById("explorer-form"),
  textarea: document.getElementById("sql"),
  label: document.getElementById("sql-label"),
  run: byTestId("run"),
  cancel: byTestId("cancel"),
  explain: byTestId("explain"),
  save: byTestId("save"),
  saveForm: byTestId("save-form"),
  saveTitle: byTestId("save-title"),
  saveDescription: byTestId("save-description"),
  saveShared: byTestId("save-shared"),
  saveError: byTestId("save-error"),
  saveCancel: byTestId("save-cancel"),
  saveConfirm: byTestId("save-confirm"),
  saveUpdate: byTestId("save-update"),
  saveNotice: byTestId("save-notice"),
  status: byTestId("query-status"),
  error: byTestId("query-error"),
  plan: byTestId("explain-output"),
  resultsPanel: byTestId("results-panel"),
  results: byTestId("results"),
  total: byTestId("result-total"),
  previous: byTestId("prev-page"),
  next: byTestId("next-page"),
  pageInfo: byTestId("page-info"),
  downloads: { csv: byTestId("download-csv"), json: byTestId("download-json"), xlsx: byTestId("download-xlsx") },
  schema: byTestId("schema-browser"),
  history: byTestId("history"),
  saved: byTestId("saved-queries"),
};

/** An answer from the API that is not a success, carrying the error object the page shows. */
class ExplorerError extends Error {
  constructor(problem) {
    super(problem.message);
    this.problem = problem;
  }
}

async function request(method, path, body) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(apiRoot + path, init);
  } catch {
    throw new ExplorerError({ message: "Could not reach Data Workspace. Check your connection, or reload the page to sign in again." });
  }
  if (response.status === 204) return null;
  let json = null;
  try {
    json = await response.json();
  } catch {
    // An HTML page (a sign-in page after the session ended, a proxy's error page) is not an answer.
  }
  if (!response.ok || json === null) throw new ExplorerError(problemOf(response, json));
  return json;
}

function problemOf(response, json) {
  if (json?.error) return { message: json.error.message ?? "The query failed.", ...json.error };
  if (json?.detail || json?.title) return { message: json.detail || json.title };
  if (response.status === 401 || response.status === 403) return { message: "You are not signed in any more. Reload the page to sign in again." };
  return { message: `Data Workspace could not answer (status ${response.status}). Try again.` };
}

const chartPanel = createChartPanel(request);
// A saved query's chart, drawn once the run of its SQL shows its result.
let savedChart = null;
// The SQL of the saved queries the page's address has named.
const savedSql = new Map();
// The user's own saved query last opened or saved here: the save form offers to change it in place.
let editing = null;

// ---- The editor ----

// CodeMirror adds its styles with a <style> element when it sits in the document, which the portal's CSP blocks;
// inside a shadow root it uses a constructed stylesheet (adoptedStyleSheets), which the CSP allows.
const editorHost = element("div", "dw-explorer__editor");
ui.textarea.after(editorHost);
ui.textarea.hidden = true;
const schemaLanguage = new Compartment();
const sqlLanguage = (schema) => sql({ dialect: PostgreSQL, upperCaseKeywords: true, schema, defaultSchema: schema?.public ? "public" : undefined });
const shadow = editorHost.attachShadow({ mode: "open" });
const editor = new EditorView({
  root: shadow,
  parent: shadow,
  state: EditorState.create({
    doc: ui.textarea.value,
    extensions: [
      Prec.highest(keymap.of([{ key: "Mod-Enter", run: () => { runQuery(); return true; } }])),
      lineNumbers(),
      highlightActiveLineGutter(),
      highlightSpecialChars(),
      history(),
      drawSelection(),
      indentOnInput(),
      bracketMatching(),
      closeBrackets(),
      autocompletion(),
      highlightActiveLine(),
      syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
      keymap.of([...closeBracketsKeymap, ...defaultKeymap, ...historyKeymap, ...completionKeymap]),
      schemaLanguage.of(sqlLanguage()),
      EditorView.lineWrapping,
      EditorView.contentAttributes.of({ "aria-label": "SQL query", "aria-describedby": "sql-hint" }),
      EditorView.theme({
        "&": { height: "100%", backgroundColor: "#ffffff", color: "#0b0c0c", fontSize: "16px" },
        "&.cm-focused": { outline: "3px solid #ffdd00", outlineOffset: "0" },
        ".cm-scroller": { fontFamily: "ui-monospace, SFMono-Regular, Menlo, Consolas, \"Liberation Mono\", monospace", overflow: "auto" },
        ".cm-gutters": { backgroundColor: "#f3f2f1", color: "#505a5f", borderRight: "1px solid #b1b4b6" },
      }),
    ],
  }),
});
ui.label.addEventListener("click", () => editor.focus());
for (const hidden of document.querySelectorAll("[data-explorer-only]")) hidden.hidden = false;

const editorText = () => editor.state.doc.toString();

function setEditorText(text) {
  editor.dispatch({ changes: { from: 0, to: editor.state.doc.length, insert: text }, selection: { anchor: text.length } });
  editor.focus();
}

function insertIntoEditor(text) {
  editor.dispatch(editor.state.replaceSelection(text));
  editor.focus();
}

/** Puts the cursor where the database found the error, when the editor still holds the SQL that ran. */
function pointAtError(ranSql, problem) {
  if (ranSql !== editorText() || !problem.line || !problem.column) return;
  const doc = editor.state.doc;
  const line = doc.line(Math.min(problem.line, doc.lines));
  const position = Math.min(line.from + problem.column - 1, line.to);
  editor.dispatch({ selection: { anchor: position }, scrollIntoView: true });
}

// ---- Running, following and cancelling a query ----

// Each run, page change or cancel takes a new generation; an answer for an older one is dropped.
const current = { id: null, page: 1, pageSize: 1000, total: null, rows: 0, generation: 0, running: false, cancelRequested: false, sql: "" };
let elapsedTimer = null;

function setRunning(running) {
  current.running = running;
  ui.run.disabled = running;
  ui.cancel.disabled = !running;
  ui.status.setAttribute("aria-busy", String(running));
  clearInterval(elapsedTimer);
  elapsedTimer = null;
  if (running) {
    const started = Date.now();
    const tick = () => { ui.status.textContent = `Running… ${Math.floor((Date.now() - started) / 1000)} s`; };
    tick();
    elapsedTimer = setInterval(tick, 500);
  }
}

async function runQuery(text = editorText()) {
  if (current.running) return;
  const generation = ++current.generation;
  Object.assign(current, { id: null, cancelRequested: false, sql: text });
  forgetSavedQueryUnless(text);
  hideError();
  ui.plan.hidden = true;
  ui.resultsPanel.hidden = true;
  chartPanel.hide();
  setRunning(true);
  try {
    const started = await request("POST", "/run", { sql: text, wait: 0 });
    if (generation !== current.generation) return;
    current.id = started.id;
    if (current.cancelRequested) {
      await cancelQuery();
      return;
    }
    const result = await follow(started.id, 1, generation);
    if (result) show(result);
  } catch (error) {
    if (generation === current.generation) fail(error);
  }
}

/** Long-polls the query until it is no longer running; null when a newer action has taken over. */
async function follow(id, page, generation) {
  for (;;) {
    const result = await request("GET", `/queries/${encodeURIComponent(id)}?page=${page}&wait=${pollSeconds}`);
    if (generation !== current.generation) return null;
    if (result.status !== "running") return result;
  }
}

async function cancelQuery() {
  if (!current.running) return;
  ui.cancel.disabled = true;
  if (!current.id) {
    current.cancelRequested = true;
    return;
  }
  const generation = ++current.generation;
  try {
    let result = await request("POST", `/queries/${encodeURIComponent(current.id)}/cancel`);
    if (generation !== current.generation) return;
    if (result.status === "running") result = await follow(current.id, 1, generation);
    if (result) show(result);
  } catch (error) {
    if (generation === current.generation) fail(error);
  }
}

async function goToPage(page) {
  if (!current.id || current.running) return;
  const generation = ++current.generation;
  ui.previous.disabled = ui.next.disabled = true;
  try {
    const result = await follow(current.id, page, generation);
    if (result) show(result);
  } catch (error) {
    if (generation === current.generation) fail(error);
  }
}

function fail(error) {
  setRunning(false);
  chartPanel.hide();
  ui.status.textContent = "Failed";
  showError(error instanceof ExplorerError ? error.problem : { message: String(error?.message ?? error) });
}

function show(result) {
  const wasRunning = current.running;
  setRunning(false);
  Object.assign(current, {
    id: result.id, page: result.page ?? 1, pageSize: result.pageSize || 1000, total: result.total ?? null, rows: result.rows?.length ?? 0,
  });
  if (result.status === "failed") {
    ui.status.textContent = "Failed";
    ui.resultsPanel.hidden = true;
    const problem = result.error ?? { message: "The query failed." };
    showError(problem);
    pointAtError(result.sql ?? current.sql, problem);
    chartPanel.hide();
  } else if (result.status === "cancelled") {
    ui.status.textContent = "Cancelled";
    ui.resultsPanel.hidden = true;
    chartPanel.hide();
  } else {
    hideError();
    ui.status.textContent = summary(result);
    showResults(result);
    chartPanel.show(result, savedChart);
    savedChart = null;
    if (current.total === null) countLater(result.id, current.generation);
  }
  if (wasRunning) loadHistory();
}

function summary(result) {
  const took = `in ${seconds(result.durationMs)}`;
  if (result.rowsAffected !== null && result.rowsAffected !== undefined && !(result.columns?.length)) {
    return `${rowCount(result.rowsAffected)} affected ${took}`;
  }
  if (result.total === null || result.total === undefined) return `Counting rows… (finished ${took})`;
  return `${rowCount(result.total)} ${took}`;
}

const rowCount = (count) => `${numbers.format(count)} ${count === 1 ? "row" : "rows"}`;

function seconds(ms) {
  if (ms === null || ms === undefined) return "? s";
  const value = ms / 1000;
  if (value >= 10) return `${numbers.format(Math.round(value))} s`;
  return `${value.toFixed(value < 0.1 && ms > 0 ? 2 : 1)} s`;
}

/** While the total is still being counted, asks again now and then and updates the count and the page links. */
async function countLater(id, generation) {
  for (let attempt = 0; attempt < 120; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    if (generation !== current.generation) return;
    let result;
    try {
      result = await request("GET", `/queries/${encodeURIComponent(id)}?page=${current.page}&wait=${pollSeconds}`);
    } catch {
      return;
    }
    if (generation !== current.generation) return;
    if (result.total !== null && result.total !== undefined) {
      current.total = result.total;
      ui.status.textContent = summary(result);
      showTotalAndPages();
      chartPanel.counted(id);
      return;
    }
  }
}

function showResults(result) {
  const columns = result.columns ?? [];
  ui.results.replaceChildren();
  if (columns.length > 0) {
    const numeric = columns.map((column) => numericTypes.test(column.type ?? ""));
    const head = element("thead", "govuk-table__head");
    const headRow = element("tr", "govuk-table__row");
    for (const column of columns) {
      const cell = element("th", "govuk-table__header", column.name);
      cell.scope = "col";
      if (column.type) cell.title = column.type;
      headRow.append(cell);
    }
    head.append(headRow);
    const body = element("tbody", "govuk-table__body");
    for (const row of result.rows ?? []) {
      const tableRow = element("tr", "govuk-table__row");
      row.forEach((value, index) => {
        const cell = element("td", numeric[index] ? "govuk-table__cell govuk-table__cell--numeric" : "govuk-table__cell");
        if (value === null) cell.append(element("span", "dw-null", "NULL"));
        else cell.textContent = typeof value === "object" ? JSON.stringify(value) : String(value);
        tableRow.append(cell);
      });
      body.append(tableRow);
    }
    ui.results.append(head, body);
  }
  ui.results.hidden = columns.length === 0;
  for (const [format, link] of Object.entries(ui.downloads)) {
    link.href = `${apiRoot}/queries/${encodeURIComponent(result.id)}/download?format=${format}`;
  }
  ui.resultsPanel.hidden = false;
  showTotalAndPages(columns.length === 0);
}

function showTotalAndPages(noRows = false) {
  const { page, pageSize, total, rows } = current;
  ui.total.textContent = noRows ? "" : total === null ? `${numbers.format(rows)} rows so far` : rowCount(total);
  const pageCount = total === null ? null : Math.max(1, Math.ceil(total / pageSize));
  ui.pageInfo.textContent = pageCount === null ? `Page ${page}` : `Page ${page} of ${pageCount}`;
  ui.previous.disabled = page <= 1;
  ui.next.disabled = pageCount === null ? rows < pageSize : page >= pageCount;
  const pagination = ui.pageInfo.parentElement;
  pagination.hidden = noRows || (pageCount === 1 && page === 1);
  ui.downloads.csv.closest("ul").hidden = noRows;
}

function showError(problem) {
  const body = ui.error.querySelector(".govuk-error-summary__body");
  body.replaceChildren(element("p", "govuk-body dw-prewrap", problem.message ?? "Something went wrong."));
  body.firstChild.dataset.testid = "error-message";
  const extra = (testId, text) => {
    const paragraph = element("p", "govuk-body dw-prewrap", text);
    paragraph.dataset.testid = testId;
    body.append(paragraph);
  };
  if (problem.line && problem.column) extra("error-position", `Line ${problem.line}, column ${problem.column}`);
  else if (problem.position) extra("error-position", `At character ${problem.position}`);
  if (problem.detail) extra("error-detail", `Detail: ${problem.detail}`);
  if (problem.hint) extra("error-hint", `Hint: ${problem.hint}`);
  if (problem.code) extra("error-code", `Error code ${problem.code}`);
  ui.error.hidden = false;
}

function hideError() {
  ui.error.hidden = true;
}

async function explainQuery() {
  hideError();
  ui.plan.hidden = true;
  ui.explain.disabled = true;
  const text = editorText();
  try {
    const { plan } = await request("POST", "/explain", { sql: text });
    ui.plan.textContent = plan;
    ui.plan.hidden = false;
  } catch (error) {
    const problem = error instanceof ExplorerError ? error.problem : { message: String(error) };
    showError(problem);
    pointAtError(text, problem);
  } finally {
    ui.explain.disabled = false;
  }
}

// ---- Schema browser ----

const quoteIdentifier = (name) => `"${name.replaceAll("\"", "\"\"")}"`;
let treeIds = 0;

async function loadSchema() {
  let schemas;
  try {
    ({ schemas } = await request("GET", "/schema"));
  } catch (error) {
    ui.schema.replaceChildren(element("p", "govuk-body-s", `Could not load the tables: ${error.message}`));
    return;
  }
  if (schemas.length === 0) {
    ui.schema.replaceChildren(element("p", "govuk-body-s", "You have no tables to query yet."));
    return;
  }
  const list = element("ul", "dw-explorer__schemas");
  const completion = {};
  for (const schema of schemas) {
    const item = element("li");
    const details = element("details");
    details.open = schemas.length === 1;
    const summary = element("summary", "dw-explorer__schema-name", schema.name);
    summary.dataset.testid = "schema-name";
    const tables = element("ul", "dw-explorer__tables");
    completion[schema.name] = {};
    for (const table of schema.tables) {
      completion[schema.name][table.name] = table.columns.map((column) => column.name);
      tables.append(tableItem(schema.name, table));
    }
    details.append(summary, tables);
    item.append(details);
    list.append(item);
  }
  ui.schema.replaceChildren(list);
  editor.dispatch({ effects: schemaLanguage.reconfigure(sqlLanguage(completion)) });
}

function tableItem(schemaName, table) {
  const item = element("li", "dw-explorer__table-item");
  const columnsId = `explorer-columns-${++treeIds}`;
  const toggle = element("button", "dw-explorer__toggle");
  toggle.type = "button";
  toggle.setAttribute("aria-expanded", "false");
  toggle.setAttribute("aria-controls", columnsId);
  toggle.setAttribute("aria-label", `Columns of ${table.name}`);
  const name = element("button", "dw-explorer__table-name", table.name);
  name.type = "button";
  name.dataset.testid = "schema-table";
  name.title = `Insert a query of ${schemaName}.${table.name}`;
  const columns = element("ul", "dw-explorer__columns");
  columns.id = columnsId;
  columns.hidden = true;
  for (const column of table.columns) {
    const columnItem = element("li", null, column.name);
    columnItem.append(" ", element("span", "dw-explorer__type", column.type));
    columns.append(columnItem);
  }
  toggle.addEventListener("click", () => {
    columns.hidden = !columns.hidden;
    toggle.setAttribute("aria-expanded", String(!columns.hidden));
  });
  name.addEventListener("click", () => insertIntoEditor(`SELECT * FROM ${quoteIdentifier(schemaName)}.${quoteIdentifier(table.name)} LIMIT 100`));
  item.append(toggle, name, columns);
  return item;
}

// ---- History and saved queries ----

const when = (iso) => (iso ? new Date(iso).toLocaleString("en-GB", { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" }) : "");

async function loadHistory() {
  let queries;
  try {
    ({ queries } = await request("GET", "/history"));
  } catch (error) {
    ui.history.replaceChildren(element("li", "govuk-body-s", `Could not load your history: ${error.message}`));
    return;
  }
  queries = [...queries].sort((a, b) => String(b.startedAt ?? "").localeCompare(String(a.startedAt ?? "")));
  if (queries.length === 0) {
    ui.history.replaceChildren(element("li", "govuk-body-s", "The queries you run appear here."));
    return;
  }
  ui.history.replaceChildren(...queries.map((query) => {
    const item = element("li", "dw-explorer__history-item");
    item.dataset.testid = "history-item";
    const button = element("button", "dw-explorer__history-sql", query.sql);
    button.type = "button";
    button.title = "Put this SQL in the editor";
    button.addEventListener("click", () => setEditorText(query.sql));
    const facts = [query.status, when(query.startedAt)];
    if (query.total !== null && query.total !== undefined) facts.push(rowCount(query.total));
    if (query.durationMs !== null && query.durationMs !== undefined) facts.push(seconds(query.durationMs));
    item.append(button, element("span", "dw-explorer__meta", facts.filter(Boolean).join(" · ")));
    return item;
  }));
}

async function loadSaved() {
  let queries;
  try {
    ({ queries } = await request("GET", "/saved"));
  } catch (error) {
    ui.saved.replaceChildren(element("li", "govuk-body-s", `Could not load the saved queries: ${error.message}`));
    return;
  }
  if (queries.length === 0) {
    ui.saved.replaceChildren(element("li", "govuk-body-s", "Queries you save, and those colleagues share, appear here."));
    return;
  }
  ui.saved.replaceChildren(...queries.map(savedItem));
  return queries;
}

function savedItem(query) {
  const item = element("li", "dw-explorer__saved-item");
  item.dataset.testid = "saved-query";
  const title = element("h3", "govuk-heading-s govuk-!-margin-bottom-1", query.title);
  title.dataset.testid = "saved-title";
  item.append(title);
  if (query.description) item.append(element("p", "govuk-body-s govuk-!-margin-bottom-1 dw-prewrap", query.description));
  if (!query.mine) item.append(element("p", "govuk-body-s govuk-!-margin-bottom-1 dw-explorer__meta", `Shared by ${query.ownerName}`));
  else if (query.shared) item.append(element("p", "govuk-body-s govuk-!-margin-bottom-1 dw-explorer__meta", "Shared with colleagues"));
  const actions = element("div", "dw-inline");
  const run = element("button", "govuk-button govuk-button--secondary govuk-!-margin-bottom-0 dw-explorer__small-button", "Run");
  run.type = "button";
  run.dataset.testid = "run-saved";
  run.addEventListener("click", () => {
    if (current.running) return;
    openSavedQuery(query);
  });
  actions.append(run);
  if (query.mine) {
    const remove = element("button", "govuk-button govuk-button--warning govuk-!-margin-bottom-0 dw-explorer__small-button", "Delete");
    remove.type = "button";
    remove.dataset.testid = "delete-saved";
    remove.addEventListener("click", async () => {
      remove.disabled = true;
      try {
        await request("DELETE", `/saved/${encodeURIComponent(query.id)}`);
        if (editing?.id === query.id) editing = null;
        notice(`Deleted “${query.title}”.`);
        await loadSaved();
      } catch (error) {
        remove.disabled = false;
        notice(`Could not delete “${query.title}”: ${error.message}`);
      }
    });
    actions.append(remove);
  }
  item.append(actions);
  return item;
}

/** Other SQL than the saved query's: the address stops naming it, so a reload does not bring it back. */
function forgetSavedQueryUnless(text) {
  const address = new URL(window.location.href);
  const id = address.searchParams.get("saved");
  if (!id || savedSql.get(id) === text) return;
  address.searchParams.delete("saved");
  window.history.replaceState(null, "", address);
}

/** Runs a saved query and draws its chart; the page's address names it, so a reload opens it again. */
function openSavedQuery(query) {
  const address = new URL(window.location.href);
  address.searchParams.set("saved", query.id);
  window.history.replaceState(null, "", address);
  savedSql.set(query.id, query.sql);
  editing = query.mine ? query : null;
  setEditorText(query.sql);
  savedChart = query.chart ?? null;
  runQuery(query.sql);
}

function notice(text) {
  ui.saveNotice.textContent = text;
  ui.saveNotice.hidden = false;
}

function openSaveForm(open) {
  ui.saveForm.hidden = !open;
  ui.save.setAttribute("aria-expanded", String(open));
  showSaveError(null);
  if (open) {
    ui.saveNotice.hidden = true;
    // Changing one's own saved query keeps its title, description and sharing unless they are changed here.
    if (editing) {
      ui.saveTitle.value = editing.title;
      ui.saveDescription.value = editing.description ?? "";
      ui.saveShared.checked = editing.shared;
    }
    ui.saveUpdate.hidden = !editing;
    ui.saveUpdate.textContent = editing ? `Save changes to “${editing.title}”` : "";
    ui.saveConfirm.textContent = editing ? "Save as a new query" : "Save query";
    ui.saveConfirm.classList.toggle("govuk-button--secondary", Boolean(editing));
    ui.saveTitle.focus();
  }
}

function showSaveError(message) {
  const group = ui.saveForm.querySelector("[data-save-group]");
  group.classList.toggle("govuk-form-group--error", Boolean(message));
  ui.saveTitle.classList.toggle("govuk-input--error", Boolean(message));
  ui.saveError.hidden = !message;
  ui.saveError.textContent = "";
  if (message) {
    const prefix = document.createElement("span");
    prefix.className = "govuk-visually-hidden";
    prefix.textContent = "Error: ";
    ui.saveError.append(prefix, message);
  }
  if (message) ui.saveTitle.setAttribute("aria-describedby", "save-title-error");
  else ui.saveTitle.removeAttribute("aria-describedby");
}

/** Saves the query as a new one, or (inPlace) as the changed version of the user's own saved query being edited. */
async function saveQuery(inPlace) {
  const title = ui.saveTitle.value.trim();
  if (!title) {
    showSaveError("Enter a title for the query");
    ui.saveTitle.focus();
    return;
  }
  const changing = inPlace ? editing : null;
  ui.saveConfirm.disabled = ui.saveUpdate.disabled = true;
  try {
    const body = { title, description: ui.saveDescription.value.trim(), sql: editorText(), shared: ui.saveShared.checked, chart: chartPanel.spec() };
    const saved = changing ? await request("PUT", `/saved/${encodeURIComponent(changing.id)}`, body) : await request("POST", "/saved", body);
    editing = saved;
    ui.saveForm.reset();
    openSaveForm(false);
    notice(`${changing ? "Saved changes to" : "Saved"} “${saved?.title ?? title}”${saved?.chart ? " with its chart" : ""}.`);
    const address = new URL(window.location.href);
    address.searchParams.set("saved", saved.id);
    window.history.replaceState(null, "", address);
    savedSql.set(saved.id, saved.sql);
    await loadSaved();
  } catch (error) {
    showSaveError(error.message);
  } finally {
    ui.saveConfirm.disabled = ui.saveUpdate.disabled = false;
  }
}

// ---- Wiring ----

ui.form.addEventListener("submit", (event) => {
  event.preventDefault();
  runQuery();
});
ui.cancel.addEventListener("click", cancelQuery);
ui.explain.addEventListener("click", explainQuery);
ui.previous.addEventListener("click", () => goToPage(current.page - 1));
ui.next.addEventListener("click", () => goToPage(current.page + 1));
ui.save.addEventListener("click", () => openSaveForm(ui.saveForm.hidden));
ui.saveCancel.addEventListener("click", () => openSaveForm(false));
ui.saveForm.addEventListener("submit", (event) => {
  event.preventDefault();
  saveQuery(event.submitter === ui.saveUpdate);
});

loadSchema();
loadHistory();
loadSaved().then((queries) => {
  // An address naming a saved query (kept from when it was saved or opened) opens it again, chart and all.
  const id = new URLSearchParams(window.location.search).get("saved");
  const query = id && queries?.find((saved) => saved.id === id);
  if (query && !current.running && !current.id) openSavedQuery(query);
});
