// Draws each dataset page chart (Pages/Datasets/_TableChart.cshtml) from the table of its data beside it.
import { chartOption, resizeWithWindow } from "../Frontend/charts.js";
import { drawChart } from "../Frontend/chart-renderer.js";

const charts = [];
for (const figure of document.querySelectorAll("[data-dataset-chart]")) {
  const table = figure.querySelector("[data-chart-table]");
  const drawing = figure.querySelector("[data-chart-drawing]");
  const columns = [...table.tHead.rows[0].cells].map((cell, index) => ({
    name: index === 0 ? cell.textContent.replace(/ \(\w+\)$/, "") : cell.textContent,
    type: cell.dataset.type === "date" ? "date" : "numeric",
  }));
  const rows = [...table.tBodies[0].rows].map((row) => [...row.cells].map((cell, index) => {
    const value = cell.dataset.value;
    if (index === 0) return value;
    return value === undefined || value === "" ? null : Number(value);
  }));
  drawing.hidden = false;
  const type = rows.length > 1 ? "line" : "bar";
  charts.push(drawChart(drawing, chartOption(type, columns, rows)));
}
resizeWithWindow(() => charts);

