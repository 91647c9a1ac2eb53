// Compiles GOV.UK Frontend (from npm) with the portal's own styles into wwwroot/dist, and bundles the Data Explorer's
// script with CodeMirror (from npm), the "Your files" page's TypeScript and the charts (ECharts, from npm). Run by the .NET build.
import * as sass from "sass";
import { build } from "esbuild";
import { cpSync, mkdirSync, rmSync, writeFileSync } from "node:fs";

const dist = "wwwroot/dist";
const govuk = "node_modules/govuk-frontend/dist/govuk";
mkdirSync(dist, { recursive: true });
rmSync(`${dist}/chunks`, { recursive: true, force: true });

const css = sass.compile("Frontend/site.scss", {
  loadPaths: ["node_modules"],
  style: "compressed",
});
writeFileSync(`${dist}/site.css`, css.css);
cpSync(`${govuk}/govuk-frontend.min.js`, `${dist}/govuk-frontend.min.js`);
cpSync(`${govuk}/assets/images`, `${dist}/assets/images`, { recursive: true });
cpSync("Frontend/site.js", `${dist}/site.js`);
const bundle = { bundle: true, format: "esm", minify: true, target: "es2020", logLevel: "warning" };
await Promise.all([
  // The Explorer loads ECharts only when it draws a chart; dataset pages with a chart load it at once: one shared chunk.
  build({ ...bundle, entryPoints: ["Explorer/explorer.js", "Catalogue/dataset-chart.js"], outdir: dist, splitting: true, entryNames: "[name]", chunkNames: "chunks/[name]-[hash]" }),
  build({ ...bundle, entryPoints: ["Files/files.ts"], outfile: `${dist}/files.js` }),
  build({ ...bundle, entryPoints: ["Tools/tools.js"], outfile: `${dist}/tools.js` }),
  build({ ...bundle, entryPoints: ["ApiTokens/api-tokens.js"], outfile: `${dist}/api-tokens.js` }),
]);
console.log(`front-end assets written to ${dist}`);
