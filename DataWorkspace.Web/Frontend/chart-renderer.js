// Draws and exports the portal's charts with Apache ECharts (from npm, bundled by esbuild into a chunk of its own that
// a page loads only when it draws a chart). ECharts' SVG renderer sets styles through the CSSOM and its canvas renderer
// draws pixels, so neither needs what the portal's CSP forbids.
import * as echarts from "echarts/core";
import { BarChart, LineChart, PieChart, ScatterChart } from "echarts/charts";
import { DatasetComponent, GridComponent, LegendComponent, TooltipComponent } from "echarts/components";
import { CanvasRenderer, SVGRenderer } from "echarts/renderers";

echarts.use([BarChart, LineChart, PieChart, ScatterChart, DatasetComponent, GridComponent, LegendComponent, TooltipComponent, CanvasRenderer, SVGRenderer]);

/** Draws the option as SVG into the container (which gives the size) and returns the chart, to redraw or export. */
export function drawChart(container, option, existing) {
  const chart = existing ?? echarts.init(container, null, { renderer: "svg" });
  chart.setOption(option, { notMerge: true });
  return chart;
}

/** The chart as an SVG document. */
export function svgBlob(chart) {
  return new Blob([chart.renderToSVGString()], { type: "image/svg+xml" });
}

/** The same option drawn again on a canvas off the page, at twice the size on screen, as a PNG. */
export function pngBlob(option, width, height) {
  const host = document.createElement("div");
  const chart = echarts.init(host, null, { renderer: "canvas", width, height, devicePixelRatio: 2 });
  try {
    chart.setOption(option);
    const canvas = chart.renderToCanvas({ pixelRatio: 2, backgroundColor: "#ffffff" });
    return new Promise((resolve, reject) => canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error("The PNG could not be made."))), "image/png"));
  } finally {
    chart.dispose();
  }
}
