// The Data Explorer's chart panel (Pages/DataExplorer/_ChartPanel.cshtml): picks a chart type and columns of the
// current result, asks the API for its rows (sampled when there are many) and draws them.
import { chartOption, fileName, loadRenderer, numericTypes, resizeWithWindow, saveFile } from "../Frontend/charts.js";

const numbers = new Intl.NumberFormat("en-GB");
const byTestId = (id) => document.querySelector(`[data-testid="${id}"]`);

/** request(method, path) is the page's API client; it throws an error whose message is the API's problem detail. */
export function createChartPanel(request) {
  const ui = {
    panel: byTestId("chart-panel"),
    form: document.getElementById("chart-form"),
    type: byTestId("chart-type"),
    x: byTestId("chart-x"),
    xLabel: document.getElementById("chart-x-label"),
    yLegend: document.getElementById("chart-y-legend"),
    yGroup: document.getElementById("chart-y-group"),
    y: byTestId("chart-y"),
    error: byTestId("chart-error"),
    output: byTestId("chart-output"),
    sample: byTestId("chart-sample"),
    drawing: byTestId("chart"),
    summary: byTestId("chart-summary"),
    png: byTestId("chart-png"),
    svg: byTestId("chart-svg"),
  };
  const state = { queryId: null, columns: [], chart: null, option: null, data: null, generation: 0, renderer: null };
  resizeWithWindow(() => [state.chart]);

  const checkedY = () => [...ui.y.querySelectorAll("input:checked")].map((input) => input.value);

  function spec() {
    if (!ui.type.value || !state.chart) return null;
    return { type: ui.type.value, x: ui.x.value, y: checkedY() };
  }

  function showError(message) {
    const prefix = document.createElement("span");
    prefix.className = "govuk-visually-hidden";
    prefix.textContent = "Error: ";
    ui.error.replaceChildren(...(message ? [prefix, message] : []));
    ui.error.hidden = !message;
    ui.yGroup.classList.toggle("govuk-form-group--error", Boolean(message));
  }

  function clearChart() {
    state.chart?.dispose();
    Object.assign(state, { chart: null, option: null, data: null });
    ui.output.hidden = true;
  }

  function labelFor(type) {
    ui.xLabel.textContent = type === "pie" ? "Slice labels" : "X axis";
    ui.yLegend.textContent = type === "pie" ? "Slice sizes" : "Y axis";
  }

  function fillColumns(columns, chosen) {
    ui.x.replaceChildren(...columns.map((column) => {
      const option = document.createElement("option");
      option.value = column.name;
      option.textContent = column.name;
      return option;
    }));
    const numericIndexes = columns.map((column, index) => (numericTypes.test(column.type ?? "") ? index : -1)).filter((index) => index >= 0);
    // By default: the first column that is not plotted along x, the first numeric column after it up the y axis.
    const defaultX = columns.find((column) => !numericTypes.test(column.type ?? "")) ?? columns[0];
    ui.x.value = chosen?.x && columns.some((column) => column.name === chosen.x) ? chosen.x : defaultX?.name ?? "";
    const defaultY = columns.find((column, index) => numericIndexes.includes(index) && column.name !== ui.x.value);
    const numericNames = new Set(numericIndexes.map((index) => columns[index].name));
    const kept = (chosen?.y ?? []).filter((name) => numericNames.has(name));
    const wanted = new Set(kept.length > 0 ? kept : defaultY ? [defaultY.name] : []);
    ui.y.replaceChildren(...columns.map((column, index) => {
      const numeric = numericTypes.test(column.type ?? "");
      const item = document.createElement("div");
      item.className = "govuk-checkboxes__item";
      const input = document.createElement("input");
      input.className = "govuk-checkboxes__input";
      input.type = "checkbox";
      input.id = `chart-y-${index}`;
      input.name = "y";
      input.value = column.name;
      input.disabled = !numeric;
      input.checked = numeric && wanted.has(column.name);
      input.dataset.testid = "chart-y-column";
      const label = document.createElement("label");
      label.className = "govuk-label govuk-checkboxes__label";
      label.htmlFor = input.id;
      label.textContent = column.name;
      item.append(input, label);
      if (!numeric) {
        const hint = document.createElement("div");
        hint.className = "govuk-hint govuk-checkboxes__hint";
        hint.id = `${input.id}-hint`;
        hint.textContent = `Not a number (${column.type || "unknown type"}), so it cannot be plotted`;
        input.setAttribute("aria-describedby", hint.id);
        item.append(hint);
      }
      return item;
    }));
  }

  function describe(type, columns, data) {
    const [x, ...ys] = columns;
    const what = type === "pie"
      ? `Pie chart of ${ys[0].name}, one slice for each ${x.name}`
      : `${type[0].toUpperCase()}${type.slice(1)} chart of ${ys.map((column) => column.name).join(", ")} by ${x.name}`;
    return `${what}, from ${sampleText(data)}. The same data is in the results table.`;
  }

  function sampleText(data) {
    const shown = data.rows.length;
    if (data.total === null || data.total === undefined) return `the first ${numbers.format(shown)} rows (the rest are still being counted)`;
    if (shown < data.total) return `${numbers.format(shown)} of ${numbers.format(data.total)} rows, spread evenly through the result`;
    return `all ${numbers.format(shown)} ${shown === 1 ? "row" : "rows"}`;
  }

  async function update() {
    const generation = ++state.generation;
    const type = ui.type.value;
    labelFor(type);
    showError(null);
    if (!type) {
      clearChart();
      return;
    }
    let y = checkedY();
    if (type === "pie" && y.length > 1) {
      // A pie has one value column: keep the first picked.
      for (const input of ui.y.querySelectorAll("input:checked")) input.checked = input.value === y[0];
      y = [y[0]];
    }
    if (!ui.x.value) return;
    if (y.length === 0) {
      clearChart();
      showError(type === "pie" ? "Pick the numeric column that sizes the slices" : "Pick at least one numeric column for the y axis");
      return;
    }
    const query = new URLSearchParams({ x: ui.x.value });
    for (const column of y) query.append("y", column);
    let data;
    try {
      // ECharts is fetched (the first time) while the rows are.
      [data, state.renderer] = await Promise.all([request("GET", `/queries/${encodeURIComponent(state.queryId)}/chart?${query}`), loadRenderer()]);
    } catch (error) {
      if (generation !== state.generation) return;
      clearChart();
      showError(error.message);
      return;
    }
    if (generation !== state.generation) return;
    ui.output.hidden = false;
    state.data = data;
    state.option = chartOption(type, data.columns, data.rows);
    state.chart = state.renderer.drawChart(ui.drawing, state.option, state.chart);
    ui.sample.textContent = data.total !== null && data.total !== undefined && data.rows.length < data.total
      ? `Showing ${numbers.format(data.rows.length)} of ${numbers.format(data.total)} rows`
      : `Showing ${sampleText(data)}`;
    ui.summary.textContent = describe(type, data.columns, data);
  }

  ui.form.addEventListener("change", (event) => {
    if (event.target === ui.y || ui.y.contains(event.target)) {
      if (ui.type.value === "pie" && event.target.checked) {
        for (const input of ui.y.querySelectorAll("input:checked")) if (input !== event.target) input.checked = false;
      }
    }
    update();
  });
  ui.form.addEventListener("submit", (event) => event.preventDefault());
  ui.svg.addEventListener("click", () => {
    if (state.chart) saveFile(state.renderer.svgBlob(state.chart), fileName(ui.summary.textContent.split(",")[0], "svg"));
  });
  ui.png.addEventListener("click", async () => {
    if (!state.chart) return;
    ui.png.disabled = true;
    try {
      const blob = await state.renderer.pngBlob(state.option, ui.drawing.clientWidth || 800, ui.drawing.clientHeight || 400);
      saveFile(blob, fileName(ui.summary.textContent.split(",")[0], "png"));
    } catch (error) {
      showError(error.message);
    } finally {
      ui.png.disabled = false;
    }
  });

  return {
    /** A new result on screen: offers its columns, and redraws the chart (or the saved one given) for it. */
    show(result, chosen) {
      const columns = result.columns ?? [];
      if (result.status !== "completed" || columns.length === 0) {
        this.hide();
        return;
      }
      const sameQuery = state.queryId === result.id;
      state.queryId = result.id;
      ui.panel.hidden = false;
      if (sameQuery && !chosen) return;
      const keep = chosen ?? (ui.type.value ? { type: ui.type.value, x: ui.x.value, y: checkedY() } : null);
      state.columns = columns;
      fillColumns(columns, keep);
      ui.type.value = chosen?.type ?? ui.type.value;
      update();
    },
    /** The count came after the first page: the sample can now spread over the whole result. */
    counted(id) {
      if (state.queryId === id && ui.type.value) update();
    },
    hide() {
      ++state.generation;
      state.queryId = null;
      clearChart();
      ui.panel.hidden = true;
    },
    spec,
  };
}
