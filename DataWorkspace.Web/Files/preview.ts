// Previews from a presigned GET: the first 20 rows of a CSV as a table, the first 64 KiB of a text file, or an image.
import { filesApi, type StoredFile } from "./api";
import { bytes, count } from "./names";
import { element } from "./dom";

const textLimit = 64 * 1024;
const imageLimit = 10 * 1024 * 1024;
const csvRows = 20;
const imageTypes = /\.(png|jpe?g|gif|webp|bmp|svg|avif|ico)$/i;
const csvTypes = /\.(csv|tsv)$/i;
const textTypes = /\.(txt|text|md|markdown|json|jsonl|ndjson|geojson|log|xml|ya?ml|toml|ini|cfg|conf|sql|py|r|rmd|ipynb|js|ts|css|html?|sh|java|cs|go|rs|c|h|cpp|tex|bib|env|properties)$/i;

export interface PreviewResult {
  note: string;
  content: HTMLElement | null;
}

type Kind = "csv" | "text" | "image" | null;

function kindOf(name: string, contentType: string): Kind {
  if (csvTypes.test(name) || /^text\/(csv|tab-separated-values)/i.test(contentType)) return "csv";
  if (imageTypes.test(name) || /^image\//i.test(contentType)) return "image";
  if (textTypes.test(name) || /^text\//i.test(contentType) || /json|xml|yaml|javascript/i.test(contentType)) return "text";
  return null;
}

export async function preview(file: StoredFile): Promise<PreviewResult> {
  const kind = kindOf(file.name, "");
  const answer = await filesApi.preview(file.key);
  const shown = kind ?? kindOf(file.name, answer.contentType);
  if (shown === "image") {
    if (answer.size > imageLimit) return noPreview(`This image is ${bytes(answer.size)}: images over ${bytes(imageLimit)} are not previewed. Download it to see it.`);
    const image = element("img", "dw-files__image");
    image.alt = `Preview of ${file.name}`;
    image.src = answer.url;
    return { note: `${file.name}, ${bytes(answer.size)}.`, content: image };
  }
  if (shown === null) return noPreview("There is no preview for this kind of file. Download it to open it.");
  // S3 refuses a Range on an empty object (416), and there is nothing to show anyway.
  if (answer.size === 0) return noPreview(`${file.name} is empty.`);
  const { text, complete } = await firstBytes(answer.url, answer.size);
  if (shown === "csv") return csvPreview(file, text, complete, answer.size);
  const pre = element("pre", "dw-sql dw-files__text", text);
  pre.tabIndex = 0;
  const note = complete ? `${file.name}, ${bytes(answer.size)}.` : `The first ${bytes(textLimit)} of ${bytes(answer.size)}.`;
  return { note, content: pre };
}

const noPreview = (note: string): PreviewResult => ({ note, content: null });

/** At most the first 64 KiB, asked for with a Range header and cut off here as well in case the store sends it all. */
async function firstBytes(url: string, size: number): Promise<{ text: string; complete: boolean }> {
  let response: Response;
  try {
    response = await fetch(url, { headers: { Range: `bytes=0-${textLimit - 1}` }, credentials: "omit", cache: "no-store" });
  } catch {
    throw new Error("Could not reach the file store to read the file. Try again in a moment.");
  }
  if (!response.ok) throw new Error(`The file store could not send the file (status ${response.status}). Try again, or download it.`);
  const reader = response.body?.getReader();
  const chunks: Uint8Array[] = [];
  let length = 0;
  if (reader) {
    while (length < textLimit) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      length += value.length;
    }
    void reader.cancel().catch(() => undefined);
  } else {
    const all = new Uint8Array(await response.arrayBuffer());
    chunks.push(all);
    length = all.length;
  }
  const joined = new Uint8Array(Math.min(length, textLimit));
  let offset = 0;
  for (const chunk of chunks) {
    const part = chunk.subarray(0, joined.length - offset);
    joined.set(part, offset);
    offset += part.length;
    if (offset >= joined.length) break;
  }
  return { text: new TextDecoder("utf-8").decode(joined), complete: size <= joined.length };
}

function csvPreview(file: StoredFile, text: string, complete: boolean, size: number): PreviewResult {
  const delimiter = /\.tsv$/i.test(file.name) ? "\t" : ",";
  const rows = parseCsv(text.replace(/^\ufeff/, ""), delimiter, complete);
  if (rows.length === 0) return noPreview("This file is empty.");
  const [header, ...body] = rows;
  const shown = body.slice(0, csvRows);
  const table = element("table", "govuk-table dw-files__csv");
  const caption = element("caption", "govuk-table__caption govuk-visually-hidden", `First rows of ${file.name}`);
  const head = element("thead", "govuk-table__head");
  const headRow = element("tr", "govuk-table__row");
  for (const name of header) {
    const cell = element("th", "govuk-table__header", name);
    cell.scope = "col";
    headRow.append(cell);
  }
  head.append(headRow);
  const tbody = element("tbody", "govuk-table__body");
  for (const row of shown) {
    const tr = element("tr", "govuk-table__row");
    for (let i = 0; i < Math.max(header.length, row.length); i++) tr.append(element("td", "govuk-table__cell", row[i] ?? ""));
    tbody.append(tr);
  }
  table.append(caption, head, tbody);
  const scroll = element("div", "dw-table-scroll");
  scroll.append(table);
  const more = body.length > csvRows || !complete;
  const note = more
    ? `The column names and the first ${count(shown.length)} rows of ${file.name} (${bytes(size)}).`
    : `All ${count(shown.length)} rows of ${file.name}.`;
  return { note, content: scroll };
}

/** RFC 4180 rows; when the text was cut off, its last (likely partial) row is dropped. */
export function parseCsv(text: string, delimiter: string, complete: boolean): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  let i = 0;
  while (i < text.length && rows.length <= csvRows + 1) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i += 2;
        continue;
      }
      if (c === '"') quoted = false;
      else field += c;
      i++;
      continue;
    }
    if (c === '"' && field === "") quoted = true;
    else if (c === delimiter) {
      row.push(field);
      field = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
    } else field += c;
    i++;
  }
  if (i >= text.length && (field !== "" || row.length > 0)) {
    row.push(field);
    if (complete) rows.push(row);
  }
  return rows;
}
