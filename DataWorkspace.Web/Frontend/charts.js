// Charts for the portal's pages: the options (what to draw) and saving files. The drawing itself is ECharts, in
// chart-renderer.js, which loadRenderer() fetches only when a chart is drawn (ECharts is most of a page's script).
// Tooltips are drawn inside the chart (richText) because ECharts' HTML tooltips carry inline style attributes.

/** ECharts' drawing and export functions (drawChart, svgBlob, pngBlob), loaded once when first asked for. */
export const loadRenderer = () => import("./chart-renderer.js");

export const chartTypes = ["bar", "line", "scatter", "pie"];
export const numericTypes = /^(smallint|integer|bigint|numeric|real|double precision|int[248]|float[48]|decimal|money)\b/;
export const dateTypes = /^(date|timestamp)/;

// GOV.UK Design System colours, distinct for the first eight series.
const palette = ["#1d70b8", "#f47738", "#00703c", "#d4351c", "#4c2c92", "#28a197", "#b58840", "#f499be"];
// The portal's own font stack (site.scss), unquoted: ECharts writes it unescaped into the exported SVG's attributes.
const font = "system-ui, -apple-system, Segoe UI, Roboto, Helvetica Neue, Arial, sans-serif";

/**
 * The ECharts option for rows whose first column is x (a pie's labels) and whose others are the y columns.
 * columns: [{ name, type }], rows: arrays in the same order.
 */
export function chartOption(type, columns, rows) {
  const [x, ...ys] = columns;
  const base = {
    animation: false,
    color: palette,
    textStyle: { fontFamily: font, fontSize: 14, color: "#0b0c0c" },
    dataset: { dimensions: columns.map((column) => column.name), source: rows },
    tooltip: { trigger: type === "pie" ? "item" : "axis", renderMode: "richText" },
    legend: { top: 0, type: "scroll" },
  };
  if (type === "pie") {
    return { ...base, series: [{ type: "pie", radius: "65%", top: 30, encode: { itemName: 0, value: 1 }, label: { fontFamily: font } }] };
  }
  const xType = numericTypes.test(x.type) && type !== "bar" ? "value" : dateTypes.test(x.type) && type !== "bar" ? "time" : "category";
  return {
    ...base,
    // ECharts 6 keeps the axis labels inside the chart by itself (the grid's outer bounds).
    grid: { left: 16, right: 24, top: 48, bottom: 40 },
    xAxis: { type: xType, name: x.name, nameLocation: "middle", nameGap: 28, axisLabel: { hideOverlap: true }, scale: xType === "value" },
    yAxis: { type: "value", scale: type === "scatter" },
    series: ys.map((column, index) => ({
      type, name: column.name, encode: { x: 0, y: index + 1 }, showSymbol: type === "scatter" || rows.length <= 100, symbolSize: type === "scatter" ? 6 : 4,
    })),
  };
}

/** Saves the blob as a file through a temporary link. */
export function saveFile(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** A file name from a title: letters, digits and dashes. */
export const fileName = (title, extension) => `${(title || "chart").toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "") || "chart"}.${extension}`;

/** Keeps charts fitting their containers when the window changes size. */
export function resizeWithWindow(getCharts) {
  let pending = null;
  window.addEventListener("resize", () => {
    if (pending) return;
    pending = requestAnimationFrame(() => {
      pending = null;
      for (const chart of getCharts()) chart?.resize();
    });
  });
}
