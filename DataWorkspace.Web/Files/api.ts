// The files API of the web app (FILES-CONTRACT): JSON in and out, problem+json on errors.

export interface Root { prefix: string; name: string; kind: "home" | "team" }
export interface Roots { bucket: string; roots: Root[] }
export interface Folder { name: string; prefix: string }
export interface StoredFile { name: string; key: string; size: number; lastModified: string }
export interface Listing { prefix: string; folders: Folder[]; files: StoredFile[]; continuation: string | null }
/** What is under a folder: its files (folder markers are not files), the folders (it and every sub-folder), their bytes. */
export interface Count { prefix: string; files: number; folders: number; bytes: number }
/** S3 POST forms: the shared fields, then each file's own fields, then the file as the last field. */
export interface PresignedPosts { url: string; urls: string[]; fields: Record<string, string>; uploads: { key: string; fields: Record<string, string> }[] }
export interface ExistingFile { key: string; size: number }
export interface MultipartStart { key: string; uploadId: string; partSize: number; partCount: number; endpoints: number }
export interface StoredPart { partNumber: number; etag: string; size: number }
export interface Preview { url: string; size: number; contentType: string }

/**
 * Why a call failed: "session" (signed out: the proxy answers with a redirect or 401), "forbidden" (403),
 * "network" (no answer, or the web app or its storage is down for now), "refused" (the request was wrong: 400, 404, 409).
 */
export type Failure = "session" | "forbidden" | "network" | "refused";

export class ApiError extends Error {
  constructor(message: string, readonly failure: Failure, readonly status: number) {
    super(message);
  }

  /** Worth trying again after a pause: nothing was wrong with the request itself. */
  get transient(): boolean {
    return this.failure === "network";
  }
}

const root = "/api/v1/files";

async function call<T>(method: "GET" | "POST", path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  const init: RequestInit = { method, headers, credentials: "same-origin", redirect: "manual", cache: "no-store" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response: Response;
  try {
    response = await fetch(path.startsWith("/") ? path : `${root}/${path}`, init);
  } catch {
    throw new ApiError("Could not reach Data Workspace. Check your connection.", "network", 0);
  }
  // A signed-out request is sent to the identity provider: with redirect "manual" that is an opaque redirect.
  if (response.type === "opaqueredirect" || response.status === 401) {
    throw new ApiError("Your session has expired: sign in again in another tab.", "session", response.status);
  }
  let json: unknown = null;
  try {
    json = await response.json();
  } catch {
    // A page of HTML (a sign-in or error page) is not an answer.
  }
  if (response.ok && json !== null) return json as T;
  const problem = (json ?? {}) as { detail?: string; title?: string };
  const said = problem.detail || problem.title;
  if (response.ok) throw new ApiError("Your session has expired: sign in again in another tab.", "session", response.status);
  if (response.status === 403) throw new ApiError(said ?? "You may not do that here.", "forbidden", 403);
  if (response.status >= 500 || response.status === 429 || response.status === 408) {
    throw new ApiError(said ?? `Data Workspace could not answer (status ${response.status}). Try again in a moment.`, "network", response.status);
  }
  throw new ApiError(said ?? `Data Workspace refused the request (status ${response.status}).`, "refused", response.status);
}

const query = (values: Record<string, string | number | null | undefined>) => {
  const parameters = new URLSearchParams();
  for (const [name, value] of Object.entries(values)) if (value !== null && value !== undefined) parameters.set(name, String(value));
  return parameters.toString();
};

export const filesApi = {
  roots: () => call<Roots>("GET", "roots"),
  list: (prefix: string, continuation: string | null, max?: number) =>
    call<Listing>("GET", `list?${query({ prefix, continuation, max })}`),
  count: (prefix: string) => call<Count>("GET", `count?${query({ prefix })}`),
  createFolder: (prefix: string) => call<{ prefix: string }>("POST", "folders", { prefix }),
  presign: (files: { key: string; size: number; contentType?: string }[]) =>
    call<PresignedPosts>("POST", "uploads", { files }),
  existing: (keys: string[]) => call<{ existing: ExistingFile[] }>("POST", "uploads/existing", { keys }),
  uploaded: (keys: string[]) => call<{ files: { key: string; size: number }[] }>("POST", "uploads/done", { keys }),
  startMultipart: (key: string, size: number, contentType?: string) =>
    call<MultipartStart>("POST", "multipart", { key, size, contentType }),
  partUrls: (key: string, uploadId: string, partNumbers: number[]) =>
    call<{ urls: Record<string, string> }>("POST", "multipart/parts", { key, uploadId, partNumbers }),
  listParts: (key: string, uploadId: string) => call<{ parts: StoredPart[] }>("GET", `multipart/parts?${query({ key, uploadId })}`),
  completeMultipart: (key: string, uploadId: string, parts: { partNumber: number; etag: string }[]) =>
    call<{ key: string; size: number }>("POST", "multipart/complete", { key, uploadId, parts }),
  abortMultipart: (key: string, uploadId: string) => call<{ aborted: boolean }>("POST", "multipart/abort", { key, uploadId }),
  download: (key: string) => call<{ url: string }>("POST", "download", { key }),
  preview: (key: string) => call<Preview>("POST", "preview", { key }),
  remove: (keys: string[], prefixes: string[]) => call<{ deleted: number; files: number; folders: number }>("POST", "delete", { keys, prefixes }),
  move: (from: string, to: string) => call<{ moved: number }>("POST", "move", { from, to }),
};
