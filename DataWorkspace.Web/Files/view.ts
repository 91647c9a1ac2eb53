// The folder view: roots side by side, breadcrumbs, the sortable listing with "Show more", and what can be done to
// its entries (new folder, download, preview, rename or move, delete). Text from users is only ever set as textContent.
import { ApiError, filesApi, type Folder, type Listing, type Root, type StoredFile } from "./api";
import { bytes, count, date, lastName, nfc, pathProblem, plural } from "./names";
import { preview } from "./preview";
import { byTestId, element } from "./dom";

/** A button that reads as a link, whose words for a screen reader name the entry it acts on. */
function actionButton(label: string, name: string, testId: string): HTMLButtonElement {
  const button = element("button", "dw-files__action", label);
  button.type = "button";
  button.dataset.testid = testId;
  button.append(element("span", "govuk-visually-hidden", ` ${name}`));
  return button;
}

/** The live status line and the error summary, shared by the folder view and the upload queue. */
export class Messages {
  private readonly status = byTestId("files-status");
  private readonly error = byTestId("files-error");
  private readonly errorText = byTestId("files-error-text");

  say(message: string) {
    this.status.textContent = message;
  }

  fail(message: string) {
    this.errorText.textContent = message;
    this.error.hidden = false;
    this.error.focus();
  }

  clear() {
    this.error.hidden = true;
    this.errorText.textContent = "";
  }
}

/** Until when leaving the page is a download (an attachment), which must not ask whether to stop the uploads. */
export const downloads = { startedUntil: 0 };

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** "12 files in 3 folders", or "2 files" when no folder goes with them: a folder's 0-byte marker is never a file. */
const filesInFolders = (files: number, folders: number) => (folders > 0 ? `${plural(files, "file")} in ${plural(folders, "folder")}` : plural(files, "file"));

type SortColumn = "name" | "size" | "modified";
type Entry = { folder: Folder; file?: undefined } | { file: StoredFile; folder?: undefined };
const entryId = (entry: Entry) => entry.folder ? entry.folder.prefix : entry.file.key;
const collator = new Intl.Collator("en-GB", { numeric: true, sensitivity: "base" });
// The first rows (more than a screen) are drawn at once, the rest of a page a frame at a time after them.
const firstRows = 150;
const rowsPerFrame = 250;

export class FolderView {
  prefix = "";
  private root!: Root;
  private folders: Folder[] = [];
  private files: StoredFile[] = [];
  private continuation: string | null = null;
  private sort: { column: SortColumn; descending: boolean } = { column: "name", descending: false };
  private readonly selected = new Set<string>();
  private loadNumber = 0;
  private drawNumber = 0;
  /** The first folder's listing, asked for while the page was still learning the user's roots. */
  prefetched: { prefix: string; listing: Promise<Listing> } | null = null;
  private pendingDelete: { keys: string[]; prefixes: string[] } | null = null;
  private moving: Entry | null = null;
  private returnFocus: HTMLElement | null = null;

  private readonly ui = {
    roots: byTestId<HTMLUListElement>("roots"),
    breadcrumbs: byTestId<HTMLOListElement>("breadcrumbs"),
    body: byTestId<HTMLTableSectionElement>("listing-body"),
    caption: byTestId("listing-caption"),
    empty: byTestId("empty"),
    showMore: byTestId<HTMLButtonElement>("show-more"),
    newFolder: byTestId<HTMLButtonElement>("new-folder"),
    newFolderForm: byTestId<HTMLFormElement>("new-folder-form"),
    newFolderName: byTestId<HTMLInputElement>("new-folder-name"),
    newFolderCancel: byTestId<HTMLButtonElement>("new-folder-cancel"),
    deleteSelected: byTestId<HTMLButtonElement>("delete-selected"),
    deletePanel: byTestId("delete-panel"),
    deleteSummary: byTestId("delete-summary"),
    deleteConfirm: byTestId<HTMLButtonElement>("delete-confirm"),
    deleteCancel: byTestId<HTMLButtonElement>("delete-cancel"),
    moveForm: byTestId<HTMLFormElement>("move-form"),
    moveHeading: byTestId("move-heading"),
    moveRoot: byTestId<HTMLSelectElement>("move-root"),
    movePath: byTestId<HTMLInputElement>("move-path"),
    moveCancel: byTestId<HTMLButtonElement>("move-cancel"),
    preview: byTestId("preview"),
    previewHeading: byTestId("preview-heading"),
    previewNote: byTestId("preview-note"),
    previewBody: byTestId("preview-body"),
    previewClose: byTestId<HTMLButtonElement>("preview-close"),
    dropHint: byTestId("drop-hint"),
  };

  constructor(private readonly roots: Root[], private readonly messages: Messages) {
    this.ui.showMore.addEventListener("click", () => void this.load(true));
    for (const header of document.querySelectorAll<HTMLTableCellElement>("th[data-sort]")) {
      header.querySelector("button")?.addEventListener("click", () => this.sortBy(header.dataset.sort as SortColumn));
    }
    this.ui.newFolder.addEventListener("click", () => this.toggleNewFolder());
    this.ui.newFolderCancel.addEventListener("click", () => this.closeNewFolder());
    this.ui.newFolderForm.addEventListener("submit", (event) => {
      event.preventDefault();
      void this.createFolder();
    });
    this.ui.deleteSelected.addEventListener("click", () => void this.askToDelete(this.selectedEntries(), this.ui.deleteSelected));
    this.ui.deleteConfirm.addEventListener("click", () => void this.deleteConfirmed());
    this.ui.deleteCancel.addEventListener("click", () => this.closeDelete());
    this.ui.moveForm.addEventListener("submit", (event) => {
      event.preventDefault();
      void this.moveConfirmed();
    });
    this.ui.moveCancel.addEventListener("click", () => this.closeMove());
    this.ui.previewClose.addEventListener("click", () => this.closePreview());
    for (const root of roots) this.ui.moveRoot.append(new Option(root.name, root.prefix));
    this.renderRoots();
  }

  /** The root that holds a key or prefix, if it is one of the user's. */
  rootOf(keyOrPrefix: string): Root | undefined {
    return this.roots.find((root) => keyOrPrefix.startsWith(root.prefix));
  }

  /**
   * Opens a folder (a prefix under one of the user's roots); with push, as a new entry in the browser's history. The
   * prefix is an existing key, taken as it is: a folder a tool named in NFD is reached under that name.
   */
  open(prefix: string, push: boolean) {
    if (prefix !== "" && !prefix.endsWith("/")) prefix += "/";
    const root = this.rootOf(prefix) ?? this.roots[0];
    if (!this.rootOf(prefix)) prefix = root.prefix;
    this.root = root;
    this.prefix = prefix;
    if (push) {
      const url = new URL(location.href);
      url.searchParams.set("prefix", prefix);
      history.pushState({ prefix }, "", url);
    }
    this.selected.clear();
    this.closeNewFolder();
    this.closeDelete();
    this.closeMove();
    this.renderRoots();
    this.renderBreadcrumbs();
    this.ui.dropHint.textContent = `Drop files or folders here to upload them into ${this.folderWords(prefix)}.`;
    void this.load(false);
  }

  /** Lists the folder again (after uploads, moves or deletes), from its first page, leaving the status line to what was done. */
  refresh() {
    void this.load(false, true);
  }

  private folderWords(prefix: string) {
    const root = this.rootOf(prefix)!;
    const path = prefix.slice(root.prefix.length).replace(/\/$/, "");
    return path ? `${root.name}: ${path}` : root.name;
  }

  private renderRoots() {
    this.ui.roots.replaceChildren(...this.roots.map((root) => {
      const item = element("li", "dw-files__root");
      const link = element("a", "govuk-link govuk-link--no-visited-state dw-files__root-link", root.name);
      link.href = `?prefix=${encodeURIComponent(root.prefix)}`;
      link.dataset.testid = `root-${root.kind}`;
      link.dataset.prefix = root.prefix;
      if (root === this.root) link.setAttribute("aria-current", "true");
      link.addEventListener("click", (event) => {
        event.preventDefault();
        this.open(root.prefix, true);
      });
      item.append(link, element("span", "dw-files__root-kind", root.kind === "home" ? "Only you" : "Your team"));
      return item;
    }));
  }

  private renderBreadcrumbs() {
    const names = this.prefix.slice(this.root.prefix.length).split("/").filter(Boolean);
    const crumbs: { name: string; prefix: string }[] = [{ name: this.root.name, prefix: this.root.prefix }];
    let prefix = this.root.prefix;
    for (const name of names) {
      prefix += `${name}/`;
      crumbs.push({ name, prefix });
    }
    this.ui.breadcrumbs.replaceChildren(...crumbs.map((crumb, index) => {
      const item = element("li", "govuk-breadcrumbs__list-item");
      if (index === crumbs.length - 1) {
        item.textContent = crumb.name;
        item.setAttribute("aria-current", "page");
      } else {
        const link = element("a", "govuk-breadcrumbs__link", crumb.name);
        link.href = `?prefix=${encodeURIComponent(crumb.prefix)}`;
        link.addEventListener("click", (event) => {
          event.preventDefault();
          this.open(crumb.prefix, true);
        });
        item.append(link);
      }
      return item;
    }));
  }

  private async load(more: boolean, quiet = false) {
    const number = ++this.loadNumber;
    const prefix = this.prefix;
    this.ui.showMore.disabled = true;
    if (!more && !quiet) this.messages.say(`Opening ${this.folderWords(prefix)}…`);
    try {
      const prefetched = !more && this.prefetched?.prefix === prefix ? this.prefetched.listing : null;
      this.prefetched = null;
      const listing = await (prefetched ?? filesApi.list(prefix, more ? this.continuation : null));
      if (number !== this.loadNumber) return;
      if (more) {
        this.folders.push(...listing.folders);
        this.files.push(...listing.files);
      } else {
        this.folders = listing.folders;
        this.files = listing.files;
      }
      this.continuation = listing.continuation;
      this.messages.clear();
      this.renderListing();
      const shown = `${plural(this.folders.length, "folder")} and ${plural(this.files.length, "file")}`;
      if (!quiet) this.messages.say(`${this.folderWords(prefix)}: ${shown}${listing.continuation ? " shown, and more to show" : ""}.`);
    } catch (error) {
      if (number !== this.loadNumber) return;
      this.messages.say("");
      this.messages.fail(`Could not list ${this.folderWords(prefix)}: ${messageOf(error)}`);
      if (!more) {
        this.folders = [];
        this.files = [];
        this.continuation = null;
        this.renderListing();
      }
    } finally {
      if (number === this.loadNumber) this.ui.showMore.disabled = false;
    }
  }

  private sortBy(column: SortColumn) {
    this.sort = { column, descending: this.sort.column === column ? !this.sort.descending : column === "modified" };
    this.renderListing();
    const direction = this.sort.descending ? "descending" : "ascending";
    this.messages.say(`Sorted by ${column === "modified" ? "date modified" : column}, ${direction}${this.continuation ? ", among the entries shown so far" : ""}.`);
  }

  private sortedEntries(): Entry[] {
    const { column, descending } = this.sort;
    const sign = descending ? -1 : 1;
    const byName = (a: string, b: string) => collator.compare(a, b) || (a < b ? -1 : a > b ? 1 : 0);
    const folders = [...this.folders].sort((a, b) => (column === "name" ? sign : 1) * byName(a.name, b.name));
    const files = [...this.files].sort((a, b) => {
      const order = column === "size" ? a.size - b.size
        : column === "modified" ? Date.parse(a.lastModified) - Date.parse(b.lastModified) : 0;
      return sign * (order || byName(a.name, b.name));
    });
    return [...folders.map((folder) => ({ folder })), ...files.map((file) => ({ file }))];
  }

  private renderListing() {
    for (const header of document.querySelectorAll<HTMLTableCellElement>("th[data-sort]")) {
      const sorted = header.dataset.sort === this.sort.column;
      header.setAttribute("aria-sort", sorted ? (this.sort.descending ? "descending" : "ascending") : "none");
    }
    const entries = this.sortedEntries();
    const number = ++this.drawNumber;
    this.ui.body.replaceChildren(...entries.slice(0, firstRows).map((entry) => this.row(entry)));
    const drawFrom = (from: number) => {
      if (from >= entries.length) return;
      requestAnimationFrame(() => {
        if (number !== this.drawNumber) return;
        this.ui.body.append(...entries.slice(from, from + rowsPerFrame).map((entry) => this.row(entry)));
        drawFrom(from + rowsPerFrame);
      });
    };
    drawFrom(firstRows);
    this.ui.caption.textContent = `Files and folders in ${this.folderWords(this.prefix)}`;
    this.ui.empty.hidden = entries.length > 0;
    this.ui.showMore.hidden = this.continuation === null;
    this.updateSelection();
  }

  private row(entry: Entry): HTMLTableRowElement {
    const row = element("tr", "govuk-table__row");
    const name = entry.folder ? entry.folder.name : entry.file.name;
    const id = entryId(entry);
    row.dataset.testid = entry.folder ? "folder-row" : "file-row";
    row.dataset.key = id;

    const select = element("td", "govuk-table__cell dw-files__select");
    const checkbox = element("input", "dw-files__checkbox");
    checkbox.type = "checkbox";
    checkbox.checked = this.selected.has(id);
    checkbox.setAttribute("aria-label", `Select ${name}`);
    checkbox.dataset.testid = "select";
    checkbox.addEventListener("change", () => {
      if (checkbox.checked) this.selected.add(id);
      else this.selected.delete(id);
      this.updateSelection();
    });
    select.append(checkbox);

    const nameCell = element("td", "govuk-table__cell dw-files__name");
    if (entry.folder) {
      const folder = entry.folder;
      const link = element("a", "govuk-link dw-files__folder-link", `${folder.name}/`);
      link.href = `?prefix=${encodeURIComponent(folder.prefix)}`;
      link.dataset.testid = "open-folder";
      link.addEventListener("click", (event) => {
        event.preventDefault();
        this.open(folder.prefix, true);
      });
      nameCell.append(link);
    } else {
      nameCell.textContent = name;
    }

    const size = element("td", "govuk-table__cell govuk-table__cell--numeric", entry.file ? bytes(entry.file.size) : "Folder");
    const modified = element("td", "govuk-table__cell", entry.file ? date(entry.file.lastModified) : "");
    const actions = element("td", "govuk-table__cell dw-files__row-actions");
    const list = element("ul", "dw-files__action-list");
    const add = (button: HTMLButtonElement, action: () => void) => {
      button.addEventListener("click", action);
      const item = element("li");
      item.append(button);
      list.append(item);
    };
    if (entry.file) {
      const file = entry.file;
      add(actionButton("Download", name, "download"), () => void this.download(file));
      const previewButton = actionButton("Preview", name, "preview-open");
      add(previewButton, () => void this.showPreview(file, previewButton));
    }
    const moveButton = actionButton("Rename or move", name, "move");
    add(moveButton, () => this.openMove(entry, moveButton));
    const deleteButton = actionButton("Delete", name, "delete");
    add(deleteButton, () => void this.askToDelete([entry], deleteButton));
    actions.append(list);

    row.append(select, nameCell, size, modified, actions);
    return row;
  }

  private selectedEntries(): Entry[] {
    return this.sortedEntries().filter((entry) => this.selected.has(entryId(entry)));
  }

  private updateSelection() {
    const known = new Set([...this.folders.map((f) => f.prefix), ...this.files.map((f) => f.key)]);
    for (const id of [...this.selected]) if (!known.has(id)) this.selected.delete(id);
    this.ui.deleteSelected.disabled = this.selected.size === 0;
    this.ui.deleteSelected.textContent = this.selected.size === 0 ? "Delete selected" : `Delete selected (${count(this.selected.size)})`;
  }

  private toggleNewFolder() {
    if (this.ui.newFolderForm.hidden) {
      this.ui.newFolderForm.hidden = false;
      this.ui.newFolder.setAttribute("aria-expanded", "true");
      this.ui.newFolderName.value = "";
      this.fieldError(this.ui.newFolderForm, null);
      this.ui.newFolderName.focus();
    } else {
      this.closeNewFolder();
    }
  }

  private closeNewFolder() {
    const wasOpen = !this.ui.newFolderForm.hidden;
    this.ui.newFolderForm.hidden = true;
    this.ui.newFolder.setAttribute("aria-expanded", "false");
    if (wasOpen && this.ui.newFolderForm.contains(document.activeElement)) this.ui.newFolder.focus();
  }

  /** Shows (or with null, clears) the error of a form's one text field, GOV.UK style. */
  private fieldError(form: HTMLFormElement, message: string | null) {
    const group = form.querySelector<HTMLElement>("[data-group]")!;
    const text = group.querySelector<HTMLElement>(".govuk-error-message")!;
    const input = group.querySelector<HTMLInputElement>("input")!;
    group.classList.toggle("govuk-form-group--error", message !== null);
    input.classList.toggle("govuk-input--error", message !== null);
    text.hidden = message === null;
    text.textContent = "";
    if (message !== null) {
      text.append(element("span", "govuk-visually-hidden", "Error: "), message);
      input.setAttribute("aria-describedby", text.id);
      input.focus();
    } else {
      input.removeAttribute("aria-describedby");
    }
  }

  private async createFolder() {
    const name = nfc(this.ui.newFolderName.value.trim()).replace(/\/+$/, "");
    const problem = name === "" ? "Enter a name for the folder" : pathProblem(this.prefix, name);
    if (problem) {
      this.fieldError(this.ui.newFolderForm, name === "" ? problem : `This name cannot be used: ${problem}`);
      return;
    }
    const prefix = `${this.prefix}${name}/`;
    try {
      await filesApi.createFolder(prefix);
    } catch (error) {
      this.fieldError(this.ui.newFolderForm, messageOf(error));
      return;
    }
    this.closeNewFolder();
    this.ui.newFolder.focus();
    this.messages.say(`Folder ${name} created.`);
    this.refresh();
  }

  private async download(file: StoredFile) {
    this.messages.clear();
    try {
      const { url } = await filesApi.download(file.key);
      // The URL answers with Content-Disposition: attachment, so the browser saves the file and the page stays.
      downloads.startedUntil = Date.now() + 5000;
      location.assign(url);
      this.messages.say(`Downloading ${file.name}.`);
    } catch (error) {
      this.messages.fail(`Could not download ${file.name}: ${messageOf(error)}`);
    }
  }

  private async showPreview(file: StoredFile, opener: HTMLElement) {
    this.returnFocus = opener;
    this.ui.preview.hidden = false;
    this.ui.previewHeading.textContent = `Preview of ${file.name}`;
    this.ui.previewNote.textContent = "Loading the preview…";
    this.ui.previewBody.replaceChildren();
    this.ui.preview.focus();
    try {
      const result = await preview(file);
      this.ui.previewNote.textContent = result.note;
      if (result.content) this.ui.previewBody.replaceChildren(result.content);
    } catch (error) {
      this.ui.previewNote.textContent = `Could not preview ${file.name}: ${messageOf(error)}`;
    }
  }

  private closePreview() {
    this.ui.preview.hidden = true;
    this.ui.previewBody.replaceChildren();
    this.returnFocus?.focus();
  }

  /** Counts what a delete would remove (folders recursively) and asks before anything is deleted. */
  private async askToDelete(entries: Entry[], opener: HTMLElement) {
    if (entries.length === 0) return;
    this.returnFocus = opener;
    this.closeMove();
    this.messages.clear();
    const keys = entries.flatMap((entry) => (entry.file ? [entry.file.key] : []));
    const prefixes = entries.flatMap((entry) => (entry.folder ? [entry.folder.prefix] : []));
    let files = keys.length;
    let folders = 0;
    let size = entries.reduce((sum, entry) => sum + (entry.file?.size ?? 0), 0);
    this.messages.say("Counting what would be deleted…");
    try {
      const counts = await Promise.all(prefixes.map((prefix) => filesApi.count(prefix)));
      for (const counted of counts) {
        files += counted.files;
        folders += counted.folders;
        size += counted.bytes;
      }
    } catch (error) {
      this.messages.say("");
      this.messages.fail(`Could not count what is in the folder, so nothing was deleted: ${messageOf(error)}`);
      return;
    }
    const parts = [
      ...(keys.length > 0 ? [plural(keys.length, "file")] : []),
      ...(prefixes.length > 0 ? [`${plural(prefixes.length, "folder")} with everything in ${prefixes.length === 1 ? "it" : "them"}`] : []),
    ];
    const what = entries.length === 1
      ? entries[0].folder ? `the folder ${entries[0].folder.name} and everything in it` : `${entries[0].file!.name}`
      : parts.join(" and ");
    const total = prefixes.length > 0 ? ` (${filesInFolders(files, folders)}${entries.length > 1 ? " in all" : ""}, ${bytes(size)})` : ` (${bytes(size)})`;
    this.pendingDelete = { keys, prefixes };
    this.ui.deleteSummary.textContent = `Delete ${what}${total}? This cannot be undone.`;
    this.ui.deletePanel.hidden = false;
    this.messages.say(this.ui.deleteSummary.textContent);
    this.ui.deleteConfirm.focus();
  }

  private closeDelete() {
    const wasOpen = !this.ui.deletePanel.hidden;
    this.pendingDelete = null;
    this.ui.deletePanel.hidden = true;
    if (wasOpen && this.returnFocus?.isConnected) this.returnFocus.focus();
  }

  private async deleteConfirmed() {
    const pending = this.pendingDelete;
    if (!pending) return;
    this.ui.deleteConfirm.disabled = true;
    try {
      const { files, folders } = await filesApi.remove(pending.keys, pending.prefixes);
      this.returnFocus = this.ui.deleteSelected;
      this.closeDelete();
      this.messages.say(`Deleted ${filesInFolders(files, folders)}.`);
      this.refresh();
    } catch (error) {
      this.closeDelete();
      this.messages.fail(`Nothing was deleted: ${messageOf(error)}`);
    } finally {
      this.ui.deleteConfirm.disabled = false;
    }
  }

  private openMove(entry: Entry, opener: HTMLElement) {
    this.returnFocus = opener;
    this.closeDelete();
    this.moving = entry;
    const id = entryId(entry);
    const root = this.rootOf(id)!;
    this.ui.moveHeading.textContent = `Rename or move ${entry.folder ? `the folder ${entry.folder.name}` : entry.file.name}`;
    this.ui.moveRoot.value = root.prefix;
    this.ui.movePath.value = id.slice(root.prefix.length).replace(/\/$/, "");
    this.fieldError(this.ui.moveForm, null);
    this.ui.moveForm.hidden = false;
    this.ui.movePath.focus();
  }

  private closeMove() {
    const wasOpen = !this.ui.moveForm.hidden;
    this.moving = null;
    this.ui.moveForm.hidden = true;
    if (wasOpen && this.returnFocus?.isConnected) this.returnFocus.focus();
  }

  private async moveConfirmed() {
    const entry = this.moving;
    if (!entry) return;
    const from = entryId(entry);
    const root = this.ui.moveRoot.value;
    const path = nfc(this.ui.movePath.value.trim()).replace(/^\/+|\/+$/g, "");
    const problem = path === "" ? "Enter the new path" : pathProblem(root, path);
    if (problem) {
      this.fieldError(this.ui.moveForm, path === "" ? problem : `This path cannot be used: ${problem}`);
      return;
    }
    const to = entry.folder ? `${root}${path}/` : `${root}${path}`;
    if (to === from) {
      this.closeMove();
      return;
    }
    if (entry.folder && to.startsWith(from)) {
      this.fieldError(this.ui.moveForm, "A folder cannot be moved into itself");
      return;
    }
    try {
      const { moved } = await filesApi.move(from, to);
      this.closeMove();
      this.messages.say(`Moved ${lastName(from)} to ${this.folderWords(to.replace(/[^/]*\/?$/, ""))} as ${lastName(to)} (${plural(moved, "file")}).`);
      this.refresh();
    } catch (error) {
      if (error instanceof ApiError && error.failure === "session") this.messages.fail(error.message);
      else this.fieldError(this.ui.moveForm, messageOf(error));
    }
  }
}
