// The upload queue: straight to S3, at most six requests at a time to each of the bucket's browser addresses (Chromium's
// connections to one host name): whole files as presigned POST forms, parts of files over 64 MiB as presigned PUTs. Names already in the bucket wait for the user's
// choice first. Retries after network errors, resumption of multipart uploads, and their state kept in localStorage so
// a reload can carry on or clean up.
import { ApiError, filesApi, type ExistingFile } from "./api";

export const singlePutLimit = 64 * 1024 * 1024;
const parallelPerEndpoint = 6;
// Parts of large files in flight at once to each of the bucket's addresses, across all uploads: every connection, as a
// part's own stream from the browser is far slower than the link.
const parallelPartsPerEndpoint = 6;
const presignBatch = 250;
const firstPresignBatch = 30;
// Forms are asked for ahead of the workers, so that none waits for the web app between files.
const presignAhead = 100;
const existingBatch = 1000;
// A smaller file is sent without an upload progress listener: the listener would cost it a CORS preflight.
const progressFrom = 1024 * 1024;
const partUrlBatch = 64;
// Finished files are confirmed to the web app (which checks them in S3 and writes the audit) in large batches: each
// confirmation costs S3 a listing, which slows the uploads still on their way.
const doneBatch = 1000;
const doneEvery = 3000;
const retries = 8;
// A request to S3 that sends and hears nothing for this long is given up and tried again: a store that accepts the
// connection and then goes silent (overloaded, paused, a proxy holding it) would otherwise leave the file at 0% forever.
export const stallAfter = 30_000;
// A small file goes without an upload listener, so the page cannot see its bytes leave: it gets the stall time plus
// what the file takes at 64 KiB/s (a 1 MiB file: 46 s) from the moment it is sent.
const slowestLink = 64 * 1024;
// Presigned URLs are valid for 15 minutes; one older than this is asked for again before it is used.
const urlFreshFor = 10 * 60 * 1000;
const storageKey = "dataworkspace.files.multipart";
// The bucket's lifecycle rule aborts multipart uploads a day old, so older records point at nothing.
const multipartKeptFor = 24 * 60 * 60 * 1000;

export type UploadState = "waiting" | "exists" | "uploading" | "finishing" | "paused" | "done" | "failed" | "cancelled" | "skipped";

/** What to do with files whose names are already in the bucket. */
export type ExistsChoice = "replace" | "skip" | "keep-both";

interface PresignedPost { urls: string[]; fields: Record<string, string>; at: number }

interface Multipart {
  uploadId: string;
  partSize: number;
  partCount: number;
  etags: Map<number, string>;
  inFlight: Map<number, number>;
  pending: number[];
  urls: Map<number, { url: string; at: number }>;
  urlRequest?: Promise<void>;
  ready: boolean;
  completing: boolean;
}

export interface Upload {
  readonly id: number;
  readonly file: File;
  key: string;
  readonly size: number;
  readonly contentType: string;
  state: UploadState;
  loaded: number;
  message: string;
  multipart?: Multipart;
  presigned?: PresignedPost;
  /** Whether the bucket was asked if the name is taken (or the user chose to replace it). */
  checked: boolean;
  checking?: boolean;
  /** The file already in the bucket under this name, while the user has not chosen what to do. */
  existing?: ExistingFile;
  /** Renamed to keep both: a name that is taken as well moves on to the next number. */
  keepBoth?: boolean;
  presignRequest?: { done: Promise<void>; shared: boolean };
  presignAlone?: boolean;
  requests: Set<XMLHttpRequest>;
  /** Counts pauses and restarts: work begun in an earlier one stops instead of carrying on. */
  generation: number;
}

/** A multipart upload kept in localStorage while it runs. */
export interface UnfinishedUpload {
  key: string;
  uploadId: string;
  name: string;
  size: number;
  lastModified: number;
  partSize: number;
  partCount: number;
  savedAt: number;
}

class Cancelled extends Error {}

/** S3 answered a POST or PUT with an error: its status and its message. */
class StorageError extends Error {
  constructor(message: string, readonly status: number) {
    super(message);
  }

  get transient() {
    return this.status === 0 || this.status >= 500 || this.status === 429 || this.status === 408;
  }
}

/**
 * Aborts a request that makes no progress for {@link stallAfter}: {@link Watchdog.poke} on every sign of life. The
 * request's abort handler asks {@link Watchdog.stalled} to tell this from the user's cancel.
 */
class Watchdog {
  private timer = 0;
  stalled = false;

  constructor(private readonly request: XMLHttpRequest, private readonly after: number) {
    this.poke();
  }

  poke() {
    clearTimeout(this.timer);
    this.timer = window.setTimeout(() => {
      this.stalled = true;
      this.request.abort();
    }, this.after);
  }

  stop() {
    clearTimeout(this.timer);
  }

  get error() {
    return new StorageError(`the file store stopped answering for ${Math.round(this.after / 1000)} s`, 0);
  }
}

const isTransient = (error: unknown) =>
  (error instanceof ApiError && error.transient) || (error instanceof StorageError && error.transient);
const isSignedOut = (error: unknown) => error instanceof ApiError && (error.failure === "session" || error.failure === "forbidden");
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const backoff = (attempt: number) => Math.min(30, 2 ** attempt) * 1000 * (0.75 + Math.random() * 0.5);
const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));
/** "the file store stopped answering" as "The file store stopped answering.", to stand before another sentence. */
const asSentence = (text: string) => {
  const capital = text.charAt(0).toUpperCase() + text.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
};

export interface QueueEvents {
  /** Uploads whose state, progress or message changed. */
  changed(uploads: Upload[]): void;
  /** The API said the user is signed out (or no longer allowed): the queue waits for Resume. */
  signedOut(message: string): void;
  /** A file finished and is now in the bucket. */
  stored(key: string): void;
  /** Some names are already in the bucket: the uploads wait in state "exists" for {@link UploadQueue.resolveExisting}. */
  exist(uploads: Upload[]): void;
}

export class UploadQueue {
  readonly uploads: Upload[] = [];
  /** Bytes sent to S3 so far, retries included: what the speed is worked out from. */
  sentBytes = 0;
  private nextId = 1;
  private workers = 0;
  /** Forms on their way to each of the bucket's browser addresses (one until the web app names more). */
  private readonly postsInFlight: number[] = [0];
  private waitingForSignIn = false;
  private doneKeys: Upload[] = [];
  private doneTimer = 0;
  private flushingDone = false;
  private doneStalled = false;

  constructor(private readonly events: QueueEvents) {}

  get signedOut() {
    return this.waitingForSignIn;
  }

  /** Something waits for the user to press Resume: a sign-in, paused uploads, or confirmations that could not be sent. */
  get needsResume() {
    return this.waitingForSignIn || this.doneStalled || this.uploads.some((u) => u.state === "paused");
  }

  /** Whether the user can still cancel it: not once its bytes are all in the bucket and it is being confirmed. */
  static cancellable(upload: Upload) {
    return upload.state === "waiting" || upload.state === "exists" || upload.state === "uploading" || upload.state === "paused";
  }

  static finished(upload: Upload) {
    return upload.state === "done" || upload.state === "failed" || upload.state === "cancelled" || upload.state === "skipped";
  }

  get busy() {
    return this.uploads.some((u) => u.state === "waiting" || u.state === "uploading" || u.state === "finishing");
  }

  /** Adds files (key = folder prefix + their path), skipping any already queued and not finished under the same key. */
  add(files: { file: File; key: string }[], resume?: UnfinishedUpload): Upload[] {
    const added: Upload[] = [];
    const queued = new Set(this.uploads.filter((u) => !UploadQueue.finished(u)).map((u) => u.key));
    // In the bucket's order of names, so that the files confirmed together lie side by side in one listing.
    const sorted = [...files].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    for (const { file, key } of sorted) {
      if (queued.has(key)) continue;
      queued.add(key);
      const upload: Upload = {
        id: this.nextId++, file, key, size: file.size, contentType: file.type || "application/octet-stream",
        state: "waiting", loaded: 0, message: "", requests: new Set(), generation: 0, checked: false,
      };
      if (resume && resume.key === key) {
        upload.multipart = this.newMultipart(resume.uploadId, resume.partSize, resume.partCount);
        upload.checked = true;
      }
      this.uploads.push(upload);
      added.push(upload);
    }
    this.events.changed(added);
    this.checkExisting();
    this.presignAhead();
    this.run();
    return added;
  }

  /** The user's choice for every upload whose name is already in the bucket. */
  resolveExisting(choice: ExistsChoice) {
    const held = this.uploads.filter((u) => u.state === "exists");
    for (const upload of held) {
      upload.existing = undefined;
      if (choice === "skip") {
        upload.state = "skipped";
        upload.message = "Skipped: a file of this name is already there.";
      } else {
        upload.state = "waiting";
        upload.message = "";
        if (choice === "replace") upload.checked = true;
        else {
          upload.key = withNumber(upload.key, numberOf(upload.key) + 1);
          upload.keepBoth = true;
          upload.presigned = undefined;
        }
      }
    }
    this.events.changed(held);
    this.checkExisting();
    this.run();
  }

  /**
   * Asks the bucket which names of the waiting uploads are taken, a thousand at a time. Free names may go; taken ones
   * wait for the user's choice, except those renamed to keep both, which take the next free number instead.
   */
  private checkExisting() {
    const unchecked = this.uploads.filter((u) => u.state === "waiting" && !u.checked && !u.checking);
    for (let start = 0; start < unchecked.length; start += existingBatch) void this.checkBatch(unchecked.slice(start, start + existingBatch));
  }

  private async checkBatch(batch: Upload[]) {
    batch.forEach((u) => (u.checking = true));
    let existing: ExistingFile[];
    try {
      existing = (await this.retrying(null, 0, "Data Workspace", () => filesApi.existing(batch.map((u) => u.key)))).existing;
    } catch (error) {
      batch.forEach((u) => (u.checking = false));
      if (isSignedOut(error)) this.pauseForSignIn(messageOf(error));
      else if (isTransient(error)) batch.filter((u) => u.state === "waiting").forEach((u) => this.pause(u, `Paused: ${asSentence(messageOf(error))} Press Resume to try again.`));
      else if (batch.length > 1) {
        // One refused name refuses the whole batch: each then asks on its own, so only that one fails.
        for (const upload of batch) void this.checkBatch([upload]);
        return;
      } else batch.filter((u) => u.state === "waiting").forEach((u) => this.fail(u, messageOf(error)));
      this.events.changed(batch);
      this.run();
      return;
    }
    const taken = new Map(existing.map((e) => [e.key, e]));
    const queued = new Set(this.uploads.filter((u) => !UploadQueue.finished(u) && !batch.includes(u)).map((u) => u.key));
    const held: Upload[] = [];
    for (const upload of batch) {
      upload.checking = false;
      if (upload.state !== "waiting" || upload.checked) continue;
      const found = taken.get(upload.key);
      if (upload.keepBoth && (found || queued.has(upload.key))) {
        // Keeping both: this number is taken too, so the next one is asked about.
        upload.key = withNumber(upload.key, numberOf(upload.key) + 1);
        upload.presigned = undefined;
      } else if (found) {
        upload.state = "exists";
        upload.existing = found;
        upload.message = `A file of this name is already there (${found.size.toLocaleString("en-GB")} bytes).`;
        held.push(upload);
      } else {
        upload.checked = true;
      }
      queued.add(upload.key);
    }
    this.events.changed(batch);
    if (held.length > 0) this.events.exist(held);
    this.checkExisting();
    this.run();
  }

  /** Asks for the forms of the next waiting files while fewer than {@link presignAhead} are ready or on their way. */
  private presignAhead() {
    const fresh = (u: Upload) => u.presigned !== undefined && Date.now() - u.presigned.at < urlFreshFor;
    const waiting = this.uploads.filter((u) => u.state === "waiting" && u.size <= singlePutLimit && !u.presignAlone);
    const ready = waiting.filter((u) => fresh(u) || u.presignRequest).length;
    if (ready >= presignAhead) return;
    // The first batch is small, so that the first files go while the next forms are being made.
    const batch = waiting.filter((u) => !fresh(u) && !u.presignRequest).slice(0, ready === 0 ? firstPresignBatch : presignBatch);
    if (batch.length > 0) this.requestForms(batch).done.catch(() => undefined);
  }

  /** An upload the page refused before sending it (a name S3 keys may not have). */
  refuse(file: File, key: string, reason: string): Upload {
    const upload: Upload = {
      id: this.nextId++, file, key, size: file.size, contentType: file.type, state: "failed", loaded: 0,
      message: `Not uploaded: ${reason}.`, requests: new Set(), generation: 0, checked: true,
    };
    this.uploads.push(upload);
    this.events.changed([upload]);
    return upload;
  }

  /** Carries on after a sign-in or after uploads paused for the network: multipart uploads first ask S3 what it has. */
  resume() {
    this.waitingForSignIn = false;
    const resumed: Upload[] = [];
    for (const upload of this.uploads) {
      if (upload.state !== "paused") continue;
      upload.state = "waiting";
      upload.message = "";
      if (upload.multipart) upload.multipart.ready = false;
      resumed.push(upload);
    }
    this.events.changed(resumed);
    this.doneStalled = false;
    if (this.doneKeys.length > 0) this.scheduleDone(0);
    this.checkExisting();
    this.run();
  }

  cancel(upload: Upload) {
    if (!UploadQueue.cancellable(upload)) return;
    upload.state = "cancelled";
    upload.generation++;
    upload.message = "Cancelled.";
    for (const request of upload.requests) request.abort();
    upload.requests.clear();
    this.doneKeys = this.doneKeys.filter((u) => u !== upload);
    const multipart = upload.multipart;
    if (multipart) {
      upload.message = "Cancelled: removing the parts already sent.";
      filesApi.abortMultipart(upload.key, multipart.uploadId).then(
        () => {
          forgetUnfinished(multipart.uploadId);
          upload.message = "Cancelled, and the parts already sent are removed.";
          this.events.changed([upload]);
        },
        (error) => {
          upload.message = `Cancelled, but the parts already sent could not be removed yet (${messageOf(error)}). They are removed after a day, or from "Uploads that did not finish" after a reload.`;
          this.events.changed([upload]);
        });
    }
    this.events.changed([upload]);
  }

  cancelAll() {
    for (const upload of this.uploads) this.cancel(upload);
  }

  clearFinished() {
    const kept = this.uploads.filter((u) => !UploadQueue.finished(u));
    this.uploads.splice(0, this.uploads.length, ...kept);
    this.events.changed([]);
  }

  /** Starts workers, up to six for each of the bucket's addresses, while there is work for them. */
  private run() {
    while (!this.waitingForSignIn && this.workers < parallelPerEndpoint * this.postsInFlight.length && this.hasWork()) {
      this.workers++;
      void this.work().finally(() => {
        this.workers--;
      });
    }
  }

  private hasWork() {
    const partsFree = this.partsInFlight() < parallelPartsPerEndpoint * this.postsInFlight.length;
    return this.uploads.some((u) => (u.state === "waiting" && u.checked)
      || (u.state === "uploading" && u.multipart?.ready === true && ((partsFree && u.multipart.pending.length > 0) || this.canComplete(u.multipart))));
  }

  private partsInFlight() {
    let count = 0;
    for (const upload of this.uploads) if (upload.state === "uploading" && upload.multipart) count += upload.multipart.inFlight.size;
    return count;
  }

  private canComplete(multipart: Multipart) {
    return multipart.etags.size === multipart.partCount && multipart.inFlight.size === 0 && !multipart.completing;
  }

  private async work() {
    for (;;) {
      if (this.waitingForSignIn) return;
      const job = this.claim();
      if (!job) return;
      await job();
    }
  }

  /** The next piece of work, claimed at once so that no other worker takes it. */
  private claim(): (() => Promise<void>) | null {
    const partsFree = this.partsInFlight() < parallelPartsPerEndpoint * this.postsInFlight.length;
    for (const upload of this.uploads) {
      const multipart = upload.multipart;
      if (upload.state !== "uploading" || !multipart?.ready) continue;
      const part = partsFree ? multipart.pending.shift() : undefined;
      if (part !== undefined) {
        multipart.inFlight.set(part, 0);
        return () => this.guard(upload, (generation) => this.sendPart(upload, generation, multipart, part), () => {
          multipart.inFlight.delete(part);
          multipart.pending.unshift(part);
        });
      }
      if (this.canComplete(multipart)) {
        multipart.completing = true;
        return () => this.guard(upload, (generation) => this.complete(upload, generation, multipart), () => {
          multipart.completing = false;
        });
      }
    }
    const upload = this.uploads.find((u) => u.state === "waiting" && u.checked);
    if (!upload) return null;
    upload.state = "uploading";
    upload.message = "";
    this.events.changed([upload]);
    if (upload.size > singlePutLimit) {
      return () => this.guard(upload, (generation) => this.startMultipart(upload, generation), () => undefined);
    }
    return () => this.guard(upload, (generation) => this.sendWhole(upload, generation), () => {
      upload.loaded = 0;
    });
  }

  /**
   * Runs one piece of work; when it fails, undoes the claim and then: waits for a sign-in (session ended), pauses the
   * upload (network still down after the retries), or fails it (S3 or the API refused it).
   */
  private async guard(upload: Upload, job: (generation: number) => Promise<void>, unclaim: () => void) {
    try {
      await job(upload.generation);
    } catch (error) {
      if (error instanceof Cancelled || upload.state === "cancelled") return;
      unclaim();
      if (isSignedOut(error)) {
        if (upload.state === "uploading" || upload.state === "waiting") {
          upload.state = "paused";
          upload.generation++;
        }
        upload.message = "Waiting for you to sign in again.";
        this.pauseForSignIn(messageOf(error));
      } else if (isTransient(error)) {
        this.pause(upload, `Paused: ${asSentence(messageOf(error))} Press Resume to try again.`);
      } else {
        this.fail(upload, messageOf(error));
      }
    } finally {
      this.events.changed([upload]);
      this.run();
    }
  }

  private pause(upload: Upload, message: string) {
    upload.generation++;
    for (const request of upload.requests) request.abort();
    upload.requests.clear();
    upload.state = "paused";
    upload.message = message;
    if (upload.multipart) {
      upload.multipart.ready = false;
      upload.multipart.inFlight.clear();
    }
  }

  private pauseForSignIn(message: string) {
    if (!this.waitingForSignIn) {
      this.waitingForSignIn = true;
      this.events.signedOut(message);
    }
    // Requests to S3 already under way need no session and go on; nothing new starts until Resume.
    const paused = this.uploads.filter((u) => u.state === "waiting");
    for (const upload of paused) {
      upload.state = "paused";
      upload.message = "Waiting for you to sign in again.";
    }
    this.events.changed(paused);
  }

  private fail(upload: Upload, message: string) {
    for (const request of upload.requests) request.abort();
    upload.requests.clear();
    upload.state = "failed";
    upload.message = `Not uploaded: ${message}`;
    const multipart = upload.multipart;
    if (multipart) {
      void filesApi.abortMultipart(upload.key, multipart.uploadId).then(() => forgetUnfinished(multipart.uploadId), () => undefined);
    }
  }

  /** Tries again after network errors, waiting longer each time, and says so on the upload. */
  private async retrying<T>(upload: Upload | null, generation: number, what: string, attempt: () => Promise<T>): Promise<T> {
    for (let tries = 0; ; tries++) {
      this.checkCancelled(upload, generation);
      try {
        const result = await attempt();
        if (tries > 0 && upload) {
          upload.message = "";
          this.events.changed([upload]);
        }
        return result;
      } catch (error) {
        this.checkCancelled(upload, generation);
        if (!isTransient(error) || tries >= retries - 1) throw error;
        const wait = backoff(tries);
        if (upload) {
          upload.message = `Could not reach ${what} (${messageOf(error)}): trying again in ${Math.round(wait / 1000)} s.`;
          this.events.changed([upload]);
        }
        await sleep(wait);
      }
    }
  }

  /**
   * Stops work on an upload that was cancelled, or paused by another of its parts' failure; and work begun before a
   * pause, so that a retry still waiting from then does not run beside the work started by Resume.
   */
  private checkCancelled(upload: Upload | null, generation: number) {
    if (upload && (upload.state === "cancelled" || upload.state === "paused" || upload.generation !== generation)) throw new Cancelled();
  }

  private async sendWhole(upload: Upload, generation: number) {
    let presignedAgain = false;
    for (;;) {
      const target = await this.retrying(upload, generation, "Data Workspace", () => this.presigned(upload));
      try {
        await this.retrying(upload, generation, "the file store", () => this.post(upload, target));
        break;
      } catch (error) {
        // An expired or refused signature: ask for a new URL once.
        if (error instanceof StorageError && error.status === 403 && !presignedAgain) {
          presignedAgain = true;
          upload.presigned = undefined;
          continue;
        }
        throw error;
      }
    }
    upload.loaded = upload.size;
    upload.state = "finishing";
    upload.message = "";
    this.doneKeys.push(upload);
    this.scheduleDone(this.doneDelay());
  }

  /** Confirmed at once when a batch is full or nothing else is on its way (the user waits only for the last ones); else a few seconds on. */
  private doneDelay() {
    const more = this.uploads.some((u) => u.state === "waiting" || (u.state === "uploading" && !u.multipart));
    return this.doneKeys.length >= doneBatch || !more ? 0 : doneEvery;
  }

  /** A fresh presigned POST form for the upload, asked for together with those of the next waiting files. */
  private async presigned(upload: Upload, tries = 0): Promise<PresignedPost> {
    const fresh = (u: Upload) => u.presigned !== undefined && Date.now() - u.presigned.at < urlFreshFor;
    this.presignAhead();
    if (fresh(upload)) return upload.presigned!;
    if (!upload.presignRequest) {
      this.requestForms(upload.presignAlone ? [upload] : [upload, ...this.uploads.filter((u) =>
        u !== upload && u.state === "waiting" && u.size <= singlePutLimit && !fresh(u) && !u.presignRequest && !u.presignAlone,
      ).slice(0, presignBatch - 1)]);
    }
    const { done, shared } = upload.presignRequest!;
    try {
      await done;
    } catch (error) {
      if (shared && error instanceof ApiError && error.failure === "refused") return this.presigned(upload, tries);
      throw error;
    }
    // A form asked for before the file was renamed (to keep both) is not its form: ask again.
    if (!fresh(upload) && tries < 2) return this.presigned(upload, tries + 1);
    if (!fresh(upload)) throw new ApiError("Data Workspace gave no upload address for this file.", "refused", 0);
    return upload.presigned!;
  }

  /** One call for the forms of a batch of uploads, shared by all of them until it answers. */
  private requestForms(batch: Upload[]) {
    const keys = batch.map((u) => u.key);
    const request = filesApi.presign(batch.map((u) => ({ key: u.key, size: u.size, contentType: u.contentType })))
      .then((answer) => {
        const at = Date.now();
        const byKey = new Map(answer.uploads.map((p) => [p.key, p]));
        batch.forEach((u, i) => {
          // A file renamed meanwhile (to keep both) needs a form for its new name.
          const form = u.key === keys[i] ? byKey.get(u.key) : undefined;
          if (form) u.presigned = { urls: answer.urls?.length ? answer.urls : [answer.url], fields: { ...answer.fields, ...form.fields }, at };
        });
      }, (error) => {
        // One refused name refuses the whole batch: each file then asks on its own, so only that one fails.
        if (error instanceof ApiError && error.failure === "refused" && batch.length > 1) batch.forEach((u) => (u.presignAlone = true));
        throw error;
      })
      .finally(() => batch.forEach((u) => (u.presignRequest = undefined)));
    const shared = { done: request, shared: batch.length > 1 };
    batch.forEach((u) => (u.presignRequest = shared));
    return shared;
  }

  /** Confirms the finished files after at most {@link delay} ms: a later call does not put off one already due. */
  private scheduleDone(delay: number) {
    if (this.doneTimer && delay > 0) return;
    clearTimeout(this.doneTimer);
    this.doneTimer = window.setTimeout(() => {
      this.doneTimer = 0;
      void this.flushDone();
    }, delay);
  }

  /** Tells the web app which files finished (it checks them and writes the audit), a batch at a time. */
  private async flushDone() {
    if (this.flushingDone || this.waitingForSignIn) return;
    this.flushingDone = true;
    // Only the files finished by now: those finishing meanwhile wait for a batch of their own.
    let due = this.doneKeys.length;
    try {
      while (due > 0 && this.doneKeys.length > 0) {
        const batch = this.doneKeys.slice(0, Math.min(doneBatch, due));
        due -= batch.length;
        try {
          await this.retrying(null, 0, "Data Workspace", () => filesApi.uploaded(batch.map((u) => u.key)));
        } catch (error) {
          if (isSignedOut(error)) {
            this.pauseForSignIn(messageOf(error));
            return;
          }
          if (isTransient(error)) {
            this.doneStalled = true;
            batch.forEach((u) => (u.message = `Sent, but Data Workspace could not confirm it yet (${messageOf(error)}). Press Resume to try again.`));
            this.events.changed(batch);
            return;
          }
          this.doneKeys = this.doneKeys.filter((u) => !batch.includes(u));
          batch.forEach((u) => this.fail(u, messageOf(error)));
          this.events.changed(batch);
          continue;
        }
        this.doneKeys = this.doneKeys.filter((u) => !batch.includes(u));
        for (const upload of batch) {
          if (upload.state !== "finishing") continue;
          upload.state = "done";
          upload.message = "";
          this.events.stored(upload.key);
        }
        this.events.changed(batch);
      }
    } finally {
      this.flushingDone = false;
      if (this.doneKeys.length > 0 && !this.doneStalled && !this.waitingForSignIn) this.scheduleDone(this.doneDelay());
    }
  }

  private newMultipart(uploadId: string, partSize: number, partCount: number): Multipart {
    return { uploadId, partSize, partCount, etags: new Map(), inFlight: new Map(), pending: [], urls: new Map(), ready: false, completing: false };
  }

  private partLength(multipart: Multipart, part: number, size: number) {
    return part < multipart.partCount ? multipart.partSize : size - multipart.partSize * (multipart.partCount - 1);
  }

  /** Starts a multipart upload, or (resumed) asks S3 which parts it already has, then lets the workers send the rest. */
  private async startMultipart(upload: Upload, generation: number) {
    let multipart = upload.multipart;
    if (multipart) {
      const current = multipart;
      try {
        const { parts } = await this.retrying(upload, generation, "Data Workspace", () => filesApi.listParts(upload.key, current.uploadId));
        current.etags.clear();
        for (const part of parts) {
          if (part.size === this.partLength(current, part.partNumber, upload.size)) current.etags.set(part.partNumber, part.etag);
        }
      } catch (error) {
        if (!(error instanceof ApiError && error.failure === "refused")) throw error;
        // The store no longer knows the upload (aborted, expired, or an emulator that restarted): start it again.
        forgetUnfinished(current.uploadId);
        multipart = undefined;
        upload.message = "The file store no longer had the parts sent before, so the upload started again.";
      }
    }
    if (!multipart) {
      const started = await this.retrying(upload, generation, "Data Workspace", () => filesApi.startMultipart(upload.key, upload.size, upload.contentType));
      multipart = this.newMultipart(started.uploadId, started.partSize, started.partCount);
      this.knowEndpoints(started.endpoints);
      if (upload.state === "cancelled") {
        void filesApi.abortMultipart(upload.key, started.uploadId).catch(() => undefined);
        throw new Cancelled();
      }
      upload.multipart = multipart;
      rememberUnfinished({
        key: upload.key, uploadId: started.uploadId, name: upload.file.name, size: upload.size,
        lastModified: upload.file.lastModified, partSize: started.partSize, partCount: started.partCount, savedAt: Date.now(),
      });
    }
    multipart.inFlight.clear();
    multipart.completing = false;
    multipart.pending = [];
    for (let part = 1; part <= multipart.partCount; part++) if (!multipart.etags.has(part)) multipart.pending.push(part);
    multipart.ready = true;
    this.updateMultipartLoaded(upload, multipart);
  }

  private updateMultipartLoaded(upload: Upload, multipart: Multipart) {
    let loaded = 0;
    for (const part of multipart.etags.keys()) loaded += this.partLength(multipart, part, upload.size);
    for (const sent of multipart.inFlight.values()) loaded += sent;
    upload.loaded = loaded;
  }

  private async sendPart(upload: Upload, generation: number, multipart: Multipart, part: number) {
    const start = multipart.partSize * (part - 1);
    const body = upload.file.slice(start, start + this.partLength(multipart, part, upload.size));
    let presignedAgain = false;
    for (;;) {
      const url = await this.retrying(upload, generation, "Data Workspace", () => this.partUrl(upload, multipart, part));
      try {
        const etag = await this.retrying(upload, generation, "the file store", () => this.put(upload, url, {}, body, (loaded) => {
          multipart.inFlight.set(part, loaded);
          this.updateMultipartLoaded(upload, multipart);
        }));
        if (!etag) throw new StorageError("The file store sent no ETag for a part. Its CORS rules must expose the ETag header.", 400);
        multipart.inFlight.delete(part);
        multipart.etags.set(part, etag);
        this.updateMultipartLoaded(upload, multipart);
        return;
      } catch (error) {
        if (error instanceof StorageError && error.status === 403 && !presignedAgain) {
          presignedAgain = true;
          multipart.urls.delete(part);
          continue;
        }
        if (error instanceof StorageError && error.status === 404) {
          // NoSuchUpload: the store lost the upload; starting over is the only way on.
          if (upload.multipart !== multipart) throw new Cancelled();
          for (const request of upload.requests) request.abort();
          upload.requests.clear();
          upload.generation++;
          multipart.ready = false;
          multipart.pending = [];
          multipart.inFlight.clear();
          multipart.etags.clear();
          upload.loaded = 0;
          upload.state = "waiting";
          upload.message = "The file store no longer had this upload: starting it again.";
          forgetUnfinished(multipart.uploadId);
          upload.multipart = undefined;
          throw new Cancelled();
        }
        throw error;
      }
    }
  }

  /** A fresh presigned UploadPart URL, asked for with the next few parts' URLs. */
  private async partUrl(upload: Upload, multipart: Multipart, part: number): Promise<string> {
    const fresh = (n: number) => {
      const url = multipart.urls.get(n);
      return url !== undefined && Date.now() - url.at < urlFreshFor;
    };
    while (!fresh(part)) {
      if (multipart.urlRequest) {
        await multipart.urlRequest.catch(() => undefined);
        continue;
      }
      const wanted = [part, ...multipart.pending.filter((n) => !fresh(n)).slice(0, partUrlBatch - 1)];
      const request = filesApi.partUrls(upload.key, multipart.uploadId, wanted).then((answer) => {
        const at = Date.now();
        for (const [n, url] of Object.entries(answer.urls)) multipart.urls.set(Number(n), { url, at });
      }).finally(() => {
        multipart.urlRequest = undefined;
      });
      multipart.urlRequest = request;
      await request;
      if (!fresh(part)) throw new ApiError(`Data Workspace gave no address for part ${part}.`, "refused", 0);
    }
    // The next addresses are asked for before the workers run out of them.
    const ahead = multipart.pending.filter((n) => !fresh(n));
    if (!multipart.urlRequest && ahead.length > 0 && multipart.pending.length - ahead.length < 2 * parallelPerEndpoint * this.postsInFlight.length) {
      const request = filesApi.partUrls(upload.key, multipart.uploadId, ahead.slice(0, partUrlBatch)).then((answer) => {
        const at = Date.now();
        for (const [n, url] of Object.entries(answer.urls)) multipart.urls.set(Number(n), { url, at });
      }).finally(() => {
        multipart.urlRequest = undefined;
      });
      multipart.urlRequest = request;
      request.catch(() => undefined);
    }
    return multipart.urls.get(part)!.url;
  }

  private async complete(upload: Upload, generation: number, multipart: Multipart) {
    upload.state = "finishing";
    upload.message = "Putting the parts together.";
    this.events.changed([upload]);
    const parts = [...multipart.etags].sort((a, b) => a[0] - b[0]).map(([partNumber, etag]) => ({ partNumber, etag }));
    try {
      await this.retrying(upload, generation, "Data Workspace", () => filesApi.completeMultipart(upload.key, multipart.uploadId, parts));
    } catch (error) {
      upload.state = "uploading";
      throw error;
    }
    forgetUnfinished(multipart.uploadId);
    upload.loaded = upload.size;
    upload.state = "done";
    upload.message = "";
    this.events.stored(upload.key);
  }

  /**
   * One POST form to S3. A small file goes without an upload listener, so that the request is a CORS simple request
   * with no preflight, and its progress goes from nothing to all at once.
   */
  private post(upload: Upload, target: PresignedPost): Promise<void> {
    return new Promise((resolve, reject) => {
      const form = new FormData();
      for (const [name, value] of Object.entries(target.fields)) form.append(name, value);
      // S3 puts the file's name in place of ${filename} in a key: named so, the key stays as it is.
      form.append("file", upload.file, upload.key.includes("${filename}") ? "${filename}" : lastNameOf(upload.key));
      const request = new XMLHttpRequest();
      let reported = 0;
      this.knowEndpoints(target.urls.length);
      // To the address with the fewest forms on their way, so that each keeps its own connections busy.
      const endpoint = this.postsInFlight.indexOf(Math.min(...this.postsInFlight.slice(0, target.urls.length)));
      this.postsInFlight[endpoint]++;
      request.addEventListener("loadend", () => this.postsInFlight[endpoint]--);
      request.open("POST", target.urls[endpoint]);
      const watchdog = new Watchdog(request, upload.size >= progressFrom ? stallAfter : stallAfter + (upload.size / slowestLink) * 1000);
      if (upload.size >= progressFrom) {
        request.upload.onprogress = (event) => {
          watchdog.poke();
          const loaded = Math.min(upload.size, event.loaded);
          this.sentBytes += Math.max(0, loaded - reported);
          reported = loaded;
          upload.loaded = loaded;
          this.events.changed([upload]);
        };
      }
      request.onload = () => {
        watchdog.stop();
        upload.requests.delete(request);
        if (request.status >= 200 && request.status < 300) {
          this.sentBytes += Math.max(0, upload.size - reported);
          upload.loaded = upload.size;
          resolve();
        } else {
          upload.loaded = 0;
          reject(new StorageError(storageMessage(request), request.status));
        }
      };
      request.onerror = request.ontimeout = () => {
        watchdog.stop();
        upload.requests.delete(request);
        upload.loaded = 0;
        reject(new StorageError("the connection to the file store failed", 0));
      };
      request.onabort = () => {
        watchdog.stop();
        upload.requests.delete(request);
        if (watchdog.stalled) {
          upload.loaded = 0;
          reject(watchdog.error);
        } else {
          reject(new Cancelled());
        }
      };
      upload.requests.add(request);
      request.send(form);
    });
  }

  /** Learns how many addresses the bucket has for the browser: the workers grow with them. */
  private knowEndpoints(count: number) {
    while (this.postsInFlight.length < count) this.postsInFlight.push(0);
  }

  /** One PUT to S3, with progress; resolves with the ETag S3 answered. */
  private put(upload: Upload, url: string, headers: Record<string, string>, body: Blob, progress: (loaded: number) => void): Promise<string | null> {
    return new Promise((resolve, reject) => {
      const request = new XMLHttpRequest();
      let reported = 0;
      request.open("PUT", url);
      for (const [name, value] of Object.entries(headers)) request.setRequestHeader(name, value);
      const watchdog = new Watchdog(request, stallAfter);
      request.upload.onprogress = (event) => {
        watchdog.poke();
        this.sentBytes += Math.max(0, event.loaded - reported);
        reported = event.loaded;
        progress(event.loaded);
        this.events.changed([upload]);
      };
      request.onload = () => {
        watchdog.stop();
        upload.requests.delete(request);
        if (request.status >= 200 && request.status < 300) {
          this.sentBytes += Math.max(0, body.size - reported);
          progress(body.size);
          resolve(request.getResponseHeader("ETag"));
        } else {
          progress(0);
          reject(new StorageError(storageMessage(request), request.status));
        }
      };
      request.onerror = request.ontimeout = () => {
        watchdog.stop();
        upload.requests.delete(request);
        progress(0);
        reject(new StorageError("the connection to the file store failed", 0));
      };
      request.onabort = () => {
        watchdog.stop();
        upload.requests.delete(request);
        if (watchdog.stalled) {
          progress(0);
          reject(watchdog.error);
        } else {
          reject(new Cancelled());
        }
      };
      upload.requests.add(request);
      request.send(body);
    });
  }
}

const lastNameOf = (key: string) => key.slice(key.lastIndexOf("/") + 1);

/** The number a name was given to keep both ("report (2).csv": 2), or 0. */
function numberOf(key: string): number {
  const match = /\((\d+)\)(\.[^./]*)?$/.exec(lastNameOf(key));
  return match ? Number(match[1]) : 0;
}

/** "report.csv" as "report (n).csv", or with its number changed to n when it has one. */
export function withNumber(key: string, n: number): string {
  const folder = key.slice(0, key.lastIndexOf("/") + 1);
  const name = lastNameOf(key);
  const dot = name.lastIndexOf(".");
  let [stem, extension] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ""];
  stem = stem.replace(/ \(\d+\)$/, "");
  return `${folder}${stem} (${n})${extension}`;
}

/** S3's own words for a refused request (an XML <Error> with a <Message>). */
function storageMessage(request: XMLHttpRequest): string {
  const text = request.responseText ?? "";
  const message = /<Message>([^<]*)<\/Message>/.exec(text)?.[1];
  const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1];
  if (message || code) return `the file store refused it: ${[code, message].filter(Boolean).join(": ")} (status ${request.status})`;
  return `the file store answered with status ${request.status}`;
}

export function unfinishedUploads(): UnfinishedUpload[] {
  try {
    const stored = JSON.parse(localStorage.getItem(storageKey) ?? "[]") as UnfinishedUpload[];
    const current = stored.filter((u) => Date.now() - u.savedAt < multipartKeptFor);
    if (current.length !== stored.length) writeUnfinished(current);
    return current;
  } catch {
    return [];
  }
}

function writeUnfinished(uploads: UnfinishedUpload[]) {
  try {
    if (uploads.length === 0) localStorage.removeItem(storageKey);
    else localStorage.setItem(storageKey, JSON.stringify(uploads));
  } catch {
    // Private browsing or a full store: the upload goes on, it just cannot be resumed after a reload.
  }
}

function rememberUnfinished(upload: UnfinishedUpload) {
  writeUnfinished([...unfinishedUploads().filter((u) => u.uploadId !== upload.uploadId), upload]);
}

export function forgetUnfinished(uploadId: string) {
  writeUnfinished(unfinishedUploads().filter((u) => u.uploadId !== uploadId));
}
