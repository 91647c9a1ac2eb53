// "Your files" (/files): the user's home and team folders in S3, listed through the web app's files API, with uploads
// and downloads going straight between the browser and S3 through presigned URLs. Bundled by esbuild into /dist/files.js.
import { filesApi, type Root } from "./api";
import { byTestId, element } from "./dom";
import { bytes, count, duration, lastName, nfc, pathProblem, plural } from "./names";
import { forgetUnfinished, unfinishedUploads, UploadQueue, type ExistsChoice, type UnfinishedUpload, type Upload, type UploadState } from "./uploads";
import { downloads, FolderView, Messages } from "./view";

const app = byTestId("files-app");
app.hidden = false;
const messages = new Messages();

const redrawEvery = 250;

const stateWords: Record<UploadState, { text: string; tag: string }> = {
  waiting: { text: "Waiting", tag: "govuk-tag--grey" },
  exists: { text: "Already there", tag: "govuk-tag--yellow" },
  uploading: { text: "Uploading", tag: "govuk-tag--blue" },
  finishing: { text: "Finishing", tag: "govuk-tag--blue" },
  paused: { text: "Paused", tag: "govuk-tag--yellow" },
  done: { text: "Uploaded", tag: "govuk-tag--green" },
  failed: { text: "Not uploaded", tag: "govuk-tag--red" },
  cancelled: { text: "Cancelled", tag: "govuk-tag--grey" },
  skipped: { text: "Skipped", tag: "govuk-tag--grey" },
};

/**
 * The queue on the page: one row per file, the overall bar with speed and time left. Redrawn a few times a second at
 * most: a redraw on every progress event would keep the main thread from starting the next requests.
 */
class QueueView {
  private readonly rows = new Map<number, { item: HTMLLIElement; name: HTMLElement; tag: HTMLElement; bar: HTMLProgressElement; text: HTMLElement; cancel: HTMLButtonElement }>();
  private readonly dirty = new Set<Upload>();
  private redrawAll = false;
  private frame = 0;
  private samples: { at: number; sent: number }[] = [];
  private sampler = 0;
  private readonly ui = {
    section: byTestId("uploads"),
    list: byTestId<HTMLUListElement>("queue"),
    overall: byTestId<HTMLProgressElement>("overall-progress"),
    overallText: byTestId("overall-text"),
    resume: byTestId<HTMLButtonElement>("resume"),
    cancelAll: byTestId<HTMLButtonElement>("cancel-all"),
    clearFinished: byTestId<HTMLButtonElement>("clear-finished"),
    session: byTestId("session-expired"),
    exists: byTestId("exists-panel"),
    existsSummary: byTestId("exists-summary"),
    replace: byTestId<HTMLButtonElement>("exists-replace"),
    skip: byTestId<HTMLButtonElement>("exists-skip"),
    keepBoth: byTestId<HTMLButtonElement>("exists-keep-both"),
  };

  queue!: UploadQueue;

  constructor() {
    this.ui.resume.addEventListener("click", () => {
      this.ui.session.hidden = true;
      messages.say("Resuming the uploads.");
      this.queue.resume();
    });
    this.ui.cancelAll.addEventListener("click", () => {
      this.queue.cancelAll();
      messages.say("All uploads cancelled.");
    });
    this.ui.clearFinished.addEventListener("click", () => {
      this.queue.clearFinished();
      this.ui.cancelAll.focus();
    });
    const choices: [HTMLButtonElement, ExistsChoice, string][] = [
      [this.ui.replace, "replace", "replaced"], [this.ui.skip, "skip", "skipped"], [this.ui.keepBoth, "keep-both", "uploaded under new names"]];
    for (const [button, choice, done] of choices) {
      button.addEventListener("click", () => {
        const held = this.queue.uploads.filter((u) => u.state === "exists").length;
        this.queue.resolveExisting(choice);
        this.ui.exists.hidden = true;
        messages.say(`${plural(held, "file")} already there ${held === 1 ? "is" : "are"} ${done}.`);
        this.ui.cancelAll.focus();
      });
    }
  }

  /** Names already in the bucket: the user chooses to replace them, skip them or keep both. */
  exist() {
    const held = this.queue.uploads.filter((u) => u.state === "exists");
    if (held.length === 0) return;
    const shown = held.slice(0, 5).map((u) => u.key.split("/").slice(2).join("/"));
    const more = held.length > shown.length ? ` and ${count(held.length - shown.length)} more` : "";
    this.ui.existsSummary.textContent = `${held.length === 1 ? "A file" : `${count(held.length)} files`} of the same name ${held.length === 1 ? "is" : "are"} already there: ${shown.join(", ")}${more}. Replace ${held.length === 1 ? "it" : "them"}, skip ${held.length === 1 ? "it" : "them"}, or keep both (the new ${held.length === 1 ? "one gets" : "ones get"} a number)?`;
    const opening = this.ui.exists.hidden;
    this.ui.exists.hidden = false;
    if (opening) {
      messages.say(this.ui.existsSummary.textContent);
      this.ui.exists.focus();
    }
  }

  changed(uploads: Upload[]) {
    if (uploads.length === 0) this.redrawAll = true;
    for (const upload of uploads) this.dirty.add(upload);
    if (!this.frame) this.frame = window.setTimeout(() => requestAnimationFrame(() => this.draw()), redrawEvery);
    if (!this.sampler && this.queue?.busy) {
      this.samples = [{ at: performance.now(), sent: this.queue.sentBytes }];
      this.sampler = window.setInterval(() => this.sample(), 1000);
    }
  }

  signedOut(message: string) {
    this.ui.session.hidden = false;
    this.ui.resume.hidden = false;
    messages.say(`Uploads paused. ${message}`);
    this.changed([]);
  }

  private sample() {
    this.samples.push({ at: performance.now(), sent: this.queue.sentBytes });
    if (this.samples.length > 6) this.samples.shift();
    if (!this.queue.busy) {
      clearInterval(this.sampler);
      this.sampler = 0;
    }
    this.changed([]);
  }

  /** Bytes a second over the last few seconds. */
  private speed(): number {
    if (this.samples.length < 2) return 0;
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    return last.at > first.at ? ((last.sent - first.sent) * 1000) / (last.at - first.at) : 0;
  }

  private draw() {
    this.frame = 0;
    const uploads = this.queue.uploads;
    if (this.redrawAll) {
      this.redrawAll = false;
      const kept = new Set(uploads.map((u) => u.id));
      for (const [id, row] of this.rows) {
        if (!kept.has(id)) {
          row.item.remove();
          this.rows.delete(id);
        }
      }
      for (const upload of uploads) this.dirty.add(upload);
    }
    for (const upload of this.dirty) this.drawRow(upload);
    this.dirty.clear();
    this.drawOverall(uploads);
  }

  private drawRow(upload: Upload) {
    let row = this.rows.get(upload.id);
    if (!row && !this.queue.uploads.includes(upload)) return;
    if (!row) {
      const item = element("li", "dw-files__queue-item");
      item.dataset.testid = "upload";
      item.dataset.key = upload.key;
      const heading = element("div", "dw-files__queue-heading");
      const name = element("span", "dw-files__queue-name");
      const tag = element("strong", "govuk-tag");
      tag.dataset.testid = "upload-state";
      heading.append(name, tag);
      const bar = element("progress", "dw-files__progress");
      bar.setAttribute("aria-label", `Upload of ${lastName(upload.key)}`);
      bar.dataset.testid = "upload-progress";
      const text = element("p", "govuk-body-s govuk-!-margin-bottom-1");
      text.dataset.testid = "upload-text";
      const cancel = element("button", "dw-files__action", "Cancel");
      cancel.type = "button";
      cancel.dataset.testid = "upload-cancel";
      cancel.append(element("span", "govuk-visually-hidden", ` the upload of ${lastName(upload.key)}`));
      cancel.addEventListener("click", () => {
        this.queue.cancel(upload);
        messages.say(`Upload of ${lastName(upload.key)} cancelled.`);
      });
      item.append(heading, bar, text, cancel);
      this.ui.list.append(item);
      row = { item, name, tag, bar, text, cancel };
      this.rows.set(upload.id, row);
    }
    // A file kept beside one of the same name has a new one.
    row.name.textContent = upload.key.split("/").slice(2).join("/");
    row.item.dataset.key = upload.key;
    // Nothing new starts while the user is signed out: an upload with no request under way waits, as the paused ones do.
    const held = this.queue.signedOut && upload.state === "uploading" && upload.requests.size === 0;
    const words = stateWords[held ? "paused" : upload.state];
    row.tag.className = `govuk-tag ${words.tag}`;
    row.tag.textContent = words.text;
    row.bar.max = Math.max(upload.size, 1);
    row.bar.value = upload.size === 0 ? (upload.state === "done" ? 1 : 0) : Math.min(upload.loaded, upload.size);
    const percent = upload.size === 0 ? (upload.state === "done" ? 100 : 0) : Math.floor((100 * upload.loaded) / upload.size);
    row.bar.setAttribute("aria-valuetext", `${percent}%`);
    const progress = upload.state === "done" ? bytes(upload.size) : `${percent}% of ${bytes(upload.size)}`;
    const message = upload.message || (held ? "Waiting for you to sign in again." : "");
    row.text.textContent = message ? `${progress}. ${message}` : progress;
    row.cancel.hidden = !UploadQueue.cancellable(upload);
  }

  private drawOverall(uploads: Upload[]) {
    this.ui.section.hidden = uploads.length === 0;
    let total = 0;
    let loaded = 0;
    let done = 0;
    let counted = 0;
    let failed = 0;
    for (const upload of uploads) {
      if (upload.state === "cancelled" || upload.state === "skipped") continue;
      if (upload.state === "failed") {
        failed++;
        continue;
      }
      counted++;
      total += upload.size;
      loaded += Math.min(upload.loaded, upload.size);
      if (upload.state === "done") done++;
    }
    this.ui.overall.max = Math.max(total, 1);
    this.ui.overall.value = total === 0 ? (done === counted && counted > 0 ? 1 : 0) : loaded;
    const percent = total === 0 ? (done === counted && counted > 0 ? 100 : 0) : Math.floor((100 * loaded) / total);
    this.ui.overall.setAttribute("aria-valuetext", `${percent}%`);
    const parts = [`${count(done)} of ${plural(counted, "file")} uploaded`, `${bytes(loaded)} of ${bytes(total)} (${percent}%)`];
    const busy = this.queue.busy && !this.queue.signedOut;
    const speed = this.speed();
    if (busy && speed > 0) parts.push(`${bytes(speed)}/s`, `about ${duration((total - loaded) / speed)} left`);
    if (failed > 0) parts.push(`${plural(failed, "file")} not uploaded`);
    this.ui.overallText.textContent = parts.join(", ");
    this.ui.resume.hidden = !this.queue.needsResume;
    this.ui.cancelAll.hidden = !uploads.some(UploadQueue.cancellable);
    this.ui.clearFinished.hidden = !uploads.some(UploadQueue.finished);
    if (!uploads.some((u) => u.state === "exists")) this.ui.exists.hidden = true;
  }
}

/** Files dropped or picked, each with its path under the folder it goes into (a dropped folder keeps its own name). */
type Picked = { file: File; path: string };

async function droppedFiles(entries: FileSystemEntry[]): Promise<{ picked: Picked[]; emptyFolders: string[] }> {
  const picked: Picked[] = [];
  const emptyFolders: string[] = [];
  const fileOf = (entry: FileSystemFileEntry) => new Promise<File>((resolve, reject) => entry.file(resolve, reject));
  const readAll = async (directory: FileSystemDirectoryEntry) => {
    const reader = directory.createReader();
    const all: FileSystemEntry[] = [];
    // readEntries answers in batches (100 in Chromium) until it answers none.
    for (;;) {
      const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
      if (batch.length === 0) return all;
      all.push(...batch);
    }
  };
  const walk = async (entry: FileSystemEntry, path: string): Promise<void> => {
    if (entry.isFile) picked.push({ file: await fileOf(entry as FileSystemFileEntry), path: path + entry.name });
    else if (entry.isDirectory) {
      const children = await readAll(entry as FileSystemDirectoryEntry);
      if (children.length === 0) emptyFolders.push(path + entry.name);
      for (const child of children) await walk(child, `${path}${entry.name}/`);
    }
  };
  for (const entry of entries) await walk(entry, "");
  return { picked, emptyFolders };
}

async function start() {
  // A folder named in the address is listed while the roots are asked for (the web app checks it is the user's).
  const initial = new URLSearchParams(location.search).get("prefix") ?? "";
  const wanted = initial === "" ? "" : nfc(initial.endsWith("/") ? initial : `${initial}/`);
  const prefetched = wanted === "" ? null : { prefix: wanted, listing: filesApi.list(wanted, null) };
  prefetched?.listing.catch(() => undefined);
  let roots: Root[];
  try {
    roots = (await filesApi.roots()).roots;
  } catch (error) {
    messages.fail(`Could not load your folders: ${error instanceof Error ? error.message : String(error)} Reload the page to try again.`);
    return;
  }
  if (roots.length === 0) {
    messages.fail("You have no folders here yet. Reload the page, or ask the service team for help.");
    return;
  }

  const folders = new FolderView(roots, messages);
  folders.prefetched = prefetched;
  const queueView = new QueueView();
  let refreshTimer = 0;
  const queue = new UploadQueue({
    changed: (uploads) => queueView.changed(uploads),
    signedOut: (message) => queueView.signedOut(message),
    exist: () => queueView.exist(),
    stored: (key) => {
      // List the folder again every few seconds while uploads into it go on, and once more when they are all done.
      if (!key.startsWith(folders.prefix)) return;
      const busy = queue.busy;
      if (busy && refreshTimer) return;
      clearTimeout(refreshTimer);
      refreshTimer = window.setTimeout(() => {
        refreshTimer = 0;
        folders.refresh();
      }, busy ? 5000 : 300);
    },
  });
  queueView.queue = queue;

  folders.open(initial, false);
  history.replaceState({ prefix: folders.prefix }, "");
  window.addEventListener("popstate", (event) => {
    const prefix = (event.state as { prefix?: string } | null)?.prefix ?? new URLSearchParams(location.search).get("prefix") ?? "";
    folders.open(prefix, false);
  });

  const enqueue = (picked: Picked[], resume?: UnfinishedUpload, into = folders.prefix) => {
    const target = resume ? resume.key.slice(0, resume.key.length - lastName(resume.key).length) : into;
    const accepted: { file: File; key: string }[] = [];
    for (const { file, path } of picked) {
      const name = resume ? lastName(resume.key) : nfc(path);
      const problem = pathProblem(target, name);
      if (problem) queue.refuse(file, target + name, problem);
      else accepted.push({ file, key: target + name });
    }
    const added = queue.add(accepted, resume);
    const skipped = accepted.length - added.length;
    messages.say(`${plural(added.length, "file")} added to the uploads${skipped ? `; ${plural(skipped, "file")} already queued` : ""}.`);
  };

  const filePicker = byTestId<HTMLInputElement>("file-picker");
  const folderPicker = byTestId<HTMLInputElement>("folder-picker");
  byTestId("upload-files").addEventListener("click", () => filePicker.click());
  byTestId("upload-folder").addEventListener("click", () => folderPicker.click());
  for (const picker of [filePicker, folderPicker]) {
    picker.addEventListener("change", () => {
      const files = [...(picker.files ?? [])];
      enqueue(files.map((file) => ({ file, path: file.webkitRelativePath || file.name })));
      picker.value = "";
    });
  }

  const dropZone = byTestId("drop-zone");
  let dragDepth = 0;
  const carriesFiles = (event: DragEvent) => event.dataTransfer?.types.includes("Files") ?? false;
  app.addEventListener("dragenter", (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    dragDepth++;
    dropZone.classList.add("dw-files__drop--active");
  });
  app.addEventListener("dragover", (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    event.dataTransfer!.dropEffect = "copy";
  });
  app.addEventListener("dragleave", () => {
    if (--dragDepth <= 0) {
      dragDepth = 0;
      dropZone.classList.remove("dw-files__drop--active");
    }
  });
  app.addEventListener("drop", (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    dragDepth = 0;
    dropZone.classList.remove("dw-files__drop--active");
    const transfer = event.dataTransfer!;
    // Entries must be taken while the event runs: the transfer is emptied once it returns.
    const entries = [...transfer.items].map((item) => item.webkitGetAsEntry?.()).filter((entry): entry is FileSystemEntry => !!entry);
    const plain = [...transfer.files];
    messages.say("Reading the dropped files…");
    const prefix = folders.prefix;
    (entries.length > 0 ? droppedFiles(entries) : Promise.resolve({ picked: plain.map((file) => ({ file, path: file.name })), emptyFolders: [] }))
      .then(async ({ picked, emptyFolders }) => {
        enqueue(picked, undefined, prefix);
        // A folder with no files has no key of its own: it is kept as a folder marker, as "New folder" makes one.
        const made = emptyFolders.map(nfc).filter((path) => pathProblem(prefix, path) === null);
        const results = await Promise.allSettled(made.map((path) => filesApi.createFolder(`${prefix}${path}/`)));
        if (results.some((r) => r.status === "rejected")) messages.fail("Some empty folders could not be created. Try New folder for them.");
        if (made.length > 0 && prefix === folders.prefix) folders.refresh();
      }, (error) => messages.fail(`Could not read the dropped files: ${error instanceof Error ? error.message : String(error)}`));
  });

  showUnfinished(roots, queue, enqueue);

  window.addEventListener("beforeunload", (event) => {
    if (queue.busy && Date.now() > downloads.startedUntil) event.preventDefault();
  });
}

/** Multipart uploads a closed page left behind: carry on (with the same file chosen again) or discard their parts. */
function showUnfinished(roots: Root[], queue: UploadQueue, enqueue: (picked: Picked[], resume: UnfinishedUpload) => void) {
  const section = byTestId("unfinished");
  const list = byTestId<HTMLUListElement>("unfinished-list");
  const picker = byTestId<HTMLInputElement>("unfinished-picker");
  let resuming: UnfinishedUpload | null = null;

  const render = () => {
    const inQueue = new Set(queue.uploads.flatMap((u) => (u.multipart ? [u.multipart.uploadId] : [])));
    // Another user's uploads in this browser are not theirs to see.
    const mine = unfinishedUploads().filter((u) => roots.some((root) => u.key.startsWith(root.prefix)) && !inQueue.has(u.uploadId));
    section.hidden = mine.length === 0;
    list.replaceChildren(...mine.map((unfinished) => {
      const item = element("li", "dw-files__unfinished-item");
      item.dataset.testid = "unfinished-upload";
      item.append(element("span", "", `${unfinished.key.split("/").slice(2).join("/")} (${bytes(unfinished.size)})`));
      const resume = element("button", "govuk-button govuk-button--secondary govuk-!-margin-bottom-0", "Choose the file to carry on");
      resume.type = "button";
      resume.dataset.testid = "unfinished-resume";
      resume.append(element("span", "govuk-visually-hidden", ` uploading ${unfinished.name}`));
      resume.addEventListener("click", () => {
        resuming = unfinished;
        picker.click();
      });
      const discard = element("button", "govuk-button govuk-button--warning govuk-!-margin-bottom-0", "Discard");
      discard.type = "button";
      discard.dataset.testid = "unfinished-discard";
      discard.append(element("span", "govuk-visually-hidden", ` the upload of ${unfinished.name}`));
      discard.addEventListener("click", () => {
        discard.disabled = true;
        filesApi.abortMultipart(unfinished.key, unfinished.uploadId).then(() => {
          forgetUnfinished(unfinished.uploadId);
          messages.say(`The unfinished upload of ${unfinished.name} is discarded.`);
          render();
        }, (error) => {
          discard.disabled = false;
          // The store has already forgotten it (aborted or expired): nothing is left to remove.
          if (error instanceof Error && "failure" in error && error.failure === "refused") {
            forgetUnfinished(unfinished.uploadId);
            render();
            return;
          }
          messages.fail(`Could not discard the upload of ${unfinished.name}: ${error instanceof Error ? error.message : String(error)}`);
        });
      });
      const buttons = element("div", "govuk-button-group govuk-!-margin-bottom-0");
      buttons.append(resume, discard);
      item.append(buttons);
      return item;
    }));
  };

  picker.addEventListener("change", () => {
    const file = picker.files?.[0];
    picker.value = "";
    const unfinished = resuming;
    resuming = null;
    if (!file || !unfinished) return;
    if (file.size !== unfinished.size) {
      messages.fail(`${file.name} is ${bytes(file.size)}, but the unfinished upload was of ${unfinished.name}, ${bytes(unfinished.size)}. Choose that file.`);
      return;
    }
    messages.clear();
    enqueue([{ file, path: unfinished.name }], unfinished);
    render();
  });
  render();
}

void start();
