// The key rules of FILES-CONTRACT, checked here too so one bad name is refused with its reason before anything is sent,
// and the ways the page writes sizes, dates and speeds.

const encoder = new TextEncoder();
const controlCharacter = /[\u0000-\u001f\u007f]/;
const percentEscape = /%[0-9a-fA-F]{2}/;

/** Why a name (one segment of a key) cannot be stored, or null when it can. */
export function nameProblem(name: string): string | null {
  if (name === "") return "it is empty";
  if (name === "." || name === "..") return `"${name}" is not a name`;
  if (name.includes("/") || name.includes("\\")) return "it contains a slash";
  if (controlCharacter.test(name)) return "it contains a control character";
  if (percentEscape.test(name)) return "it contains % followed by two hex digits, which reads as an encoded character";
  if (/[ .]$/.test(name)) return "it ends with a space or a dot";
  if (encoder.encode(name).length > 255) return "it is longer than 255 bytes";
  return null;
}

/** Why a path under a root (names separated by "/") cannot be stored, or null when it can. */
export function pathProblem(root: string, path: string): string | null {
  if (path.startsWith("/")) return "it starts with a slash";
  for (const name of path.split("/")) {
    const problem = nameProblem(name);
    if (problem) return name === "" ? "it has an empty folder name (two slashes together, or a slash at the end)" : `"${name}": ${problem}`;
  }
  if (encoder.encode(root + path).length > 1024 - 1) return "the full path is longer than 1,024 bytes";
  return null;
}

/** A name the user typed, picked or dropped, in the one Unicode form new keys have (NFC: "é" as one character, not "e" and an accent). */
export const nfc = (text: string) => text.normalize("NFC");

/** The last name of a key or a prefix. */
export const lastName = (keyOrPrefix: string) => keyOrPrefix.replace(/\/$/, "").split("/").pop() ?? keyOrPrefix;

const numbers = new Intl.NumberFormat("en-GB");
const oneDecimal = new Intl.NumberFormat("en-GB", { maximumFractionDigits: 1 });
const dates = new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit" });

export const count = (n: number) => numbers.format(n);

export function bytes(n: number): string {
  if (n < 1024) return `${numbers.format(n)} ${n === 1 ? "byte" : "bytes"}`;
  const units = ["KB", "MB", "GB", "TB"];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${oneDecimal.format(value)} ${units[unit]}`;
}

export const date = (iso: string) => {
  const parsed = new Date(iso);
  return Number.isNaN(parsed.getTime()) ? "" : dates.format(parsed);
};

export function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "";
  if (seconds < 60) return `${Math.max(1, Math.round(seconds))} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
}

export const plural = (n: number, one: string, many = `${one}s`) => `${count(n)} ${n === 1 ? one : many}`;
