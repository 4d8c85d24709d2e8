// My runs: the signed-in user's runs (GET /text2image/history), newest first, a page at a time,
// each with its prompt, when, thumbnails and status; "Re-run" posts its request again (seed
// included, so the same images), "Download all" zips its images in the browser.
import {storedZip} from "./zip.js";

const PAGE_SIZE = 10;
// Collect puts a run in the history just after its manifest: a page read as the run ends may
// not have it yet, so it is read again (a few times) until it does.
const SETTLE_TRIES = 5;
const SETTLE_MS = 1000;
const THROTTLED_TRIES = 3;

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function element(tag, className, text) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
}

async function zipOf(run) {
  const files = await Promise.all(run.images.map(async (url) => {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`${url}: ${response.status}`);
    const name = new URL(url, location.href).pathname.split("/").pop();
    return {name, bytes: new Uint8Array(await response.arrayBuffer())};
  }));
  return storedZip(files);
}

function save(blob, name) {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 60000);  // once the download has surely read it
}

export class Runs {
  // elements: {section, list, more, status}; apiFetch(path): the API with the user's token;
  // onRerun(request): runs it again; onError(error): a failed read (a SignedOut signs out).
  constructor(elements, apiFetch, onRerun, onError) {
    Object.assign(this, elements);
    this.apiFetch = apiFetch;
    this.onRerun = onRerun;
    this.onError = onError;
    this.next = null;
    this.more.addEventListener("click", () => this.loadMore());
  }

  async page(cursor) {
    const query = new URLSearchParams({limit: String(PAGE_SIZE)});
    if (cursor) query.set("cursor", cursor);
    let response = await this.apiFetch(`/text2image/history?${query}`);
    // The stage's throttling counts these reads too: a refused one waits as told and tries again.
    for (let tries = 1; response.status === 429 && tries < THROTTLED_TRIES; tries++) {
      await sleep(1000 * (Number(response.headers.get("Retry-After")) || 1));
      response = await this.apiFetch(`/text2image/history?${query}`);
    }
    const answer = await response.json().catch(() => null);
    if (!response.ok || !answer) throw new Error(`My runs could not be read (${response.status}): ${answer ? answer.message : response.statusText}`);
    return answer;
  }

  show(page, replace) {
    const items = page.runs.map((run) => this.item(run));
    if (replace) this.list.replaceChildren(...items);
    else this.list.append(...items);
    this.next = page.next;
    this.more.hidden = !page.next;
    this.status.textContent = this.list.children.length ? "" : "No runs yet: the images you make appear here.";
  }

  // The first page again; with requestId, until it lists that run.
  async reload(requestId) {
    try {
      for (let tries = 1; ; tries++) {
        const page = await this.page(null);
        if (!requestId || tries >= SETTLE_TRIES || page.runs.some((run) => run.request_id === requestId)) {
          this.show(page, true);
          return;
        }
        await sleep(SETTLE_MS);
      }
    } catch (error) {
      this.onError(error);
    }
  }

  async loadMore() {
    this.more.disabled = true;
    try {
      this.show(await this.page(this.next), false);
    } catch (error) {
      this.onError(error);
    } finally {
      this.more.disabled = false;
    }
  }

  clear() {
    this.list.replaceChildren();
    this.next = null;
    this.more.hidden = true;
    this.status.textContent = "";
  }

  item(run) {
    const request = run.request || {};
    const li = element("li", "run");
    li.dataset.requestId = run.request_id;
    const head = element("div", "run-head");
    head.append(element("q", "run-prompt", request.text || ""), element("span", `state ${run.status}`, run.status));
    const when = element("time", "", new Date(run.started).toLocaleString());
    when.dateTime = run.started;
    const facts = [`${run.images.length} image(s)`, `${Number(run.seconds).toFixed(1)} s`, `${request.width}×${request.height}`, `seed ${request.seed}`];
    if (run.errors) facts.splice(1, 0, `${run.errors} failed`);
    const meta = element("p", "run-meta");
    meta.append(when, ` · ${facts.join(" · ")}`);
    const thumbs = element("div", "thumbs");
    run.images.forEach((url, index) => {
      const link = element("a");
      link.href = url;
      link.target = "_blank";
      link.rel = "noopener";
      const img = element("img");
      img.src = url;
      img.loading = "lazy";
      img.alt = `${request.text} (image ${index + 1})`;
      link.append(img);
      thumbs.append(link);
    });
    const actions = element("div", "run-actions");
    const rerun = element("button", "secondary", "Re-run");
    rerun.type = "button";
    rerun.addEventListener("click", () => this.onRerun(request));
    const download = element("button", "secondary", "Download all");
    download.type = "button";
    download.disabled = !run.images.length;
    download.addEventListener("click", async () => {
      download.disabled = true;
      download.textContent = "Zipping…";
      try {
        save(await zipOf(run), `text2image-${run.request_id}.zip`);
      } catch (error) {
        this.onError(error);
      } finally {
        download.disabled = false;
        download.textContent = "Download all";
      }
    });
    actions.append(rerun, download);
    li.append(head, meta, thumbs, actions);
    return li;
  }
}
