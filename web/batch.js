// text2image batch page. batch.html?id=<batch id> follows a batch through its status.json (same
// origin, /batches/<id>/status.json): its status, a progress bar of lines ended, and a contact sheet
// that grows by a tile per line as lines end (thumbnails lazy-loaded; a line that failed or was
// refused says why), polled with back-off until the batch has ended. "Run a file of prompts" POSTs a
// JSONL or CSV file to /text2image/batches (the ID token too where sign-in is on, as the main page
// sends it) and opens the batch's page. No framework: the DOM is built with createElement and
// textContent, so nothing the API or a file says is parsed as HTML.
import {NEW_PASSWORD_REQUIRED, Session, SignedOut, quotaText, signedInFetch} from "./session.js";

const POLL_FIRST_MS = 1000;  // status.json is rewritten about every 10 s while a batch runs
const POLL_MAX_MS = 5000;
const POLL_GROWTH = 1.5;
// The submit writes status.json before it answers, so a missing one is looked for only a few times
// (an edge may still hold an earlier answer), then there is no such batch.
const MISSING_LOOKS = 4;
const BATCH_ENDS = new Set(["succeeded", "partial", "failed", "invalid"]);
const BATCH_ID = /^batch-[0-9a-f]{32}$/;
// A file's Content-Type by its name (browsers give .jsonl files no type, or a wrong one).
const MEDIA_TYPES = {jsonl: "application/x-ndjson", ndjson: "application/x-ndjson", csv: "text/csv"};

const $ = (id) => document.getElementById(id);
let session = null;  // a Session when the API takes sign-in

function element(tag, className, text) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function showStatus(message) {
  $("status").textContent = message;
}

// An error, and the bad lines of a refused file (each {line, message}) listed under it.
function showError(message, badLines = []) {
  $("error-message").textContent = message;
  $("bad-lines").replaceChildren(...badLines.map((bad) => element("li", "", `Line ${bad.line}: ${bad.message}`)));
  $("bad-lines").hidden = !badLines.length;
  $("error").hidden = !message;
}

// -- following a batch ------------------------------------------------------------------------

const tiles = new Map();  // line number -> its tile in the contact sheet

function tile(entry) {
  const li = element("li", `tile ${entry.status}`);
  li.dataset.line = String(entry.line);
  const head = element("div", "tile-head");
  head.append(element("span", "tile-line", `Line ${entry.line}`), element("span", `state ${entry.status}`, entry.status));
  li.append(head);
  if (entry.images.length) {
    const thumbs = element("div", "thumbs");
    entry.images.forEach((url, index) => {
      const link = element("a");
      link.href = url;
      link.target = "_blank";
      link.rel = "noopener";
      const img = element("img");
      img.loading = "lazy";
      img.decoding = "async";
      img.alt = `Line ${entry.line}, image ${index + 1}`;
      img.src = url;
      link.append(img);
      thumbs.append(link);
    });
    li.append(thumbs);
  }
  // The reason names the endpoints and how many images each lost; without one, the count alone.
  const why = entry.reason || (entry.errors ? `${entry.errors} image${entry.errors === 1 ? "" : "s"} lost` : "");
  if (why) li.append(element("p", "reason", why));
  return li;
}

// The lines that ended since the last version join the sheet in line order, after those already
// there (so nothing on screen moves); a line whose outcome changed (a redrive) is redrawn in place.
function showLines(lines) {
  const ended = lines.filter((entry) => entry.status !== "pending").sort((a, b) => a.line - b.line);
  const added = [];
  for (const entry of ended) {
    const shown = tiles.get(entry.line);
    if (shown && shown.dataset.status === entry.status && shown.dataset.images === String(entry.images.length)) continue;
    const fresh = tile(entry);
    fresh.dataset.status = entry.status;
    fresh.dataset.images = String(entry.images.length);
    tiles.set(entry.line, fresh);
    if (shown) shown.replaceWith(fresh);
    else added.push(fresh);
  }
  $("sheet").append(...added);
}

function showDocument(document_) {
  $("batch-state").textContent = document_.status;
  $("batch-state").className = `state ${document_.status}`;
  if (document_.status === "invalid") {  // a file dropped in the bucket that was refused: why, and its bad lines
    $("counts").textContent = "";
    showError(`The file was refused: ${document_.message}`, document_.lines);
    return;
  }
  const failed = document_.failed ? ` · ${document_.failed} failed` : "";
  $("counts").textContent = `${document_.done} of ${document_.total} lines ended${failed} · ${document_.images} images`;
  const bar = $("progress");
  bar.setAttribute("aria-valuemax", String(document_.total));
  bar.setAttribute("aria-valuenow", String(document_.done));
  bar.setAttribute("aria-valuetext", `${document_.done} of ${document_.total} lines`);
  $("progress-fill").style.width = `${document_.total ? (100 * document_.done) / document_.total : 0}%`;
  showLines(document_.lines);
}

function ended(document_) {
  const images = `${document_.images} image${document_.images === 1 ? "" : "s"}`;
  switch (document_.status) {
    case "succeeded": return `The batch succeeded: ${document_.total} line${document_.total === 1 ? "" : "s"}, ${images}.`;
    case "partial": {
      const failed = document_.failed ? `, ${document_.failed} of ${document_.total} lines failed` : "";
      return `The batch ended with images lost: ${images} made${failed}; each tile says why.`;
    }
    case "invalid": return "The file was refused; nothing was run.";
    default: return `The batch failed: ${images} made; each tile says why.`;
  }
}

async function follow(batchId) {
  $("batch-id").textContent = batchId;
  $("batch").hidden = false;
  showStatus(`Following batch ${batchId}…`);
  const url = `/batches/${batchId}/status.json`;
  let delay = POLL_FIRST_MS;
  let missing = 0;
  for (;;) {
    // no-cache: each look asks the server, which answers 304 while the document has not changed.
    const response = await fetch(url, {cache: "no-cache"}).catch(() => null);
    if (response && response.ok) {
      const document_ = await response.json().catch(() => null);
      if (document_) {
        showDocument(document_);
        if (BATCH_ENDS.has(document_.status)) {
          showStatus(ended(document_));
          return;
        }
      }
    } else if (response && (response.status === 404 || response.status === 403) && ++missing >= MISSING_LOOKS) {
      showStatus("");
      $("batch").hidden = true;
      showError(`There is no batch ${batchId} here: its status was not found.`);
      return;
    }
    await sleep(delay);
    delay = Math.min(POLL_MAX_MS, delay * POLL_GROWTH);
  }
}

// -- running a file ---------------------------------------------------------------------------

function mediaType(file) {
  const suffix = file.name.includes(".") ? file.name.split(".").pop().toLowerCase() : "";
  return MEDIA_TYPES[suffix] || null;
}

// The page's API call: with the user's ID token where the API takes sign-in (session.js).
const apiFetch = (path, options) => signedInFetch(session, path, options);

function refusal(status, answer, response) {
  const message = answer && answer.message ? answer.message : response.statusText;
  if (status === 400 && answer && answer.lines && answer.lines.length) {
    return [`The file was refused: ${answer.lines.length === 1 ? "one line is" : `${answer.lines.length} lines are`} invalid. Fix them and run it again:`, answer.lines];
  }
  if (status === 429 && answer && answer.error === "QuotaExceeded") {  // the whole batch, before it starts
    return [quotaText(answer, "This batch needs more images than you have left today"), []];
  }
  if (status === 429) {
    const wait = response.headers.get("Retry-After");
    return [`Too many requests right now${wait ? `; try again in ${wait} s` : "; try again shortly"}.`, []];
  }
  if (status === 400 || status === 413 || status === 415) return [`The file was refused: ${message}`, []];
  return [`Something went wrong (${status}): ${message}`, []];
}

let batchMaxBytes = null;  // the largest file the API takes (/config.json)

const bytes = (count) => `${count.toLocaleString("en")} bytes`;

function fileProblem(message) {
  showStatus("");
  showError(message);
  $("file").setAttribute("aria-invalid", "true");
  $("file").focus();
}

async function run(file) {
  $("file").removeAttribute("aria-invalid");
  showError("");
  if (!file) return fileProblem("Choose a file first.");
  const type = mediaType(file);
  if (!type) return fileProblem(`${file.name} is neither JSONL (.jsonl, .ndjson) nor CSV (.csv).`);
  $("run").disabled = true;
  try {
    await configured;  // a file sent before /config.json arrived waits to know about sign-in and the size limit
    // Checked here: past the limit the API's own answer can be a bare 413 that does not say it.
    if (batchMaxBytes && file.size > batchMaxBytes) {
      return fileProblem(`${file.name} is ${bytes(file.size)}; the API takes files of up to ${bytes(batchMaxBytes)} ` +
        `(${(batchMaxBytes / 1048576).toFixed(1)} MiB). ` +
        "Split it, or put it under batches/inbox/ in the stack's bucket.");
    }
    showStatus(`Sending ${file.name}…`);
    const response = await apiFetch("/text2image/batches", {method: "POST", headers: {"Content-Type": type}, body: file});
    const answer = await response.json().catch(() => null);
    if (response.status !== 202 || !answer) {
      showStatus("");
      const [message, badLines] = refusal(response.status, answer, response);
      showError(message, badLines);
      return;
    }
    showStatus(`${answer.lines} lines accepted; opening batch ${answer.batch_id}…`);
    location.assign(`batch.html?id=${encodeURIComponent(answer.batch_id)}`);
  } catch (error) {
    showStatus("");
    if (error instanceof SignedOut) showSignIn(error.message);
    else showError(`The file could not be sent: ${error.message || error}`);
  } finally {
    $("run").disabled = false;
  }
}

$("submit").addEventListener("submit", (event) => {
  event.preventDefault();
  run($("file").files[0]);
});

// -- sign-in (only when /config.json names a user pool) ---------------------------------------

function showSignIn(message) {
  $("sign-in").hidden = false;
  $("submit").hidden = true;
  $("account").hidden = true;
  showError(message || "");
}

function showSignedIn() {
  $("sign-in").hidden = true;
  $("submit").hidden = false;
  $("account").hidden = false;
  $("who").textContent = session.username;
}

$("sign-in").addEventListener("submit", async (event) => {
  event.preventDefault();
  const button = $("sign-in").querySelector("button[type=submit]");
  const password = $("password");
  button.disabled = true;
  showError("");
  try {
    const next = await session.signIn($("username").value.trim(), password.value);
    if (next === null) showSignedIn();
    else if (next.name === NEW_PASSWORD_REQUIRED) showError("This is your first sign-in: choose your own password on the main page (text2image.html) first.");
    else showError(`Sign-in needs a step this page does not take (${next.name}).`);
  } catch (error) {
    const wrong = error.kind === "NotAuthorizedException" || error.kind === "UserNotFoundException";
    showError(wrong ? "Wrong user name or password." : `Sign-in failed: ${error.message || error}`);
  } finally {
    password.value = "";  // never kept, not even in the form
    button.disabled = false;
  }
});

$("sign-out").addEventListener("click", () => {
  session.signOut();
  showSignIn("");
});

async function loadConfig() {
  const response = await fetch("/config.json", {cache: "no-store"}).catch(() => null);
  const config = response && response.ok ? await response.json().catch(() => null) : null;
  batchMaxBytes = config && Number.isInteger(config.batchMaxBytes) ? config.batchMaxBytes : null;
  if (!config || !config.auth) return;  // no sign-in: anyone may run a file
  session = new Session(config.auth);
  if (session.signedIn) showSignedIn();
  else showSignIn("");
}

const configured = loadConfig();

// -- which batch ------------------------------------------------------------------------------

const batchId = new URLSearchParams(location.search).get("id");
if (batchId === null) {
  showStatus("Run a file of prompts above; its page follows the batch. A batch's page is batch.html?id=<batch id>.");
} else if (!BATCH_ID.test(batchId)) {
  showError(`“${batchId}” is not a batch id: one is “batch-” and 32 hexadecimal digits, as POST /text2image/batches answers.`);
} else {
  follow(batchId);
}
