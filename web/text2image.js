// text2image page: starts a job (POST /text2image/jobs, same origin), then shows each image
// as soon as it exists and the run's outcome once its manifest appears. No framework: the DOM
// is built with createElement/textContent, so prompts and messages are never parsed as HTML.
// /config.json says whether the API takes sign-in: if it does, the page signs the user in
// (session.js), sends their ID token with every API call and lists their runs (runs.js);
// if not, it works as it always has. Where the GPUs scale to zero (/config.json's "warm"), the
// page follows them through the warm route (warm.js): it says they are starting and about how
// long, sends a run again by itself when they were cold, and offers a "Warm up GPUs" button.
import {NEW_PASSWORD_REQUIRED, Session, SignedOut, quotaText, signedInFetch} from "./session.js";
import {Runs} from "./runs.js";
import {Gpus, allWarm, coldOutcome, waitLimitMs} from "./warm.js";

const POLL_FIRST_MS = 400;      // first look, and again right after something arrived
const POLL_MAX_MS = 2000;       // back-off ceiling while nothing changes
const POLL_GROWTH = 1.5;
const GIVE_UP_MS = 330000;      // the workflow's 5-minute limit, and a margin
const PRESETS = {"768x512": [768, 512], "1024x600": [1024, 600], "1280x800": [1280, 800]};
const FIELD_INPUTS = ["text", "negative_prompt", "width", "height", "num_images", "seed", "num_inference_steps", "guidance_scale"];

const $ = (id) => document.getElementById(id);
const form = $("form");
const send = $("send");
let running = false;
let session = null;  // a Session when the API takes sign-in
let challenge = null;  // NEW_PASSWORD_REQUIRED in progress: {name, session, username}, never the password
let warm = null;  // /config.json's "warm" ({coldStartSeconds}) where the GPUs scale to zero
let countdown = null;  // the interval counting down a cold start, while the GPUs are starting
let statusIsWarming = false;  // the status line says the GPUs are starting (and no newer news)

function showStatus(message) {
  $("status").textContent = message;
  statusIsWarming = false;
}

function showError(message, field) {
  const box = $("error");
  box.textContent = message;
  box.hidden = !message;
  for (const name of FIELD_INPUTS) $(name).removeAttribute("aria-invalid");
  if (field && $(field)) {
    if (field === "width" || field === "height") {
      $("resolution").value = "custom";
      toggleCustomSize();
    }
    $(field).setAttribute("aria-invalid", "true");
    $(field).focus();
  }
}

function toggleCustomSize() {
  const custom = $("resolution").value === "custom";
  for (const el of document.querySelectorAll(".custom-size")) el.hidden = !custom;
}

// Numbers as typed: the API, not the page, decides what is valid, so its message is shown.
function numberField(name) {
  const raw = $(name).value.trim();
  return raw === "" ? undefined : Number(raw);
}

function buildRequest() {
  const request = {text: $("text").value};
  const negative = $("negative_prompt").value;
  if (negative) request.negative_prompt = negative;
  const preset = PRESETS[$("resolution").value];
  const [width, height] = preset || [numberField("width"), numberField("height")];
  if (width !== undefined) request.width = width;
  if (height !== undefined) request.height = height;
  for (const name of ["num_images", "seed", "num_inference_steps", "guidance_scale"]) {
    const value = numberField(name);
    if (value !== undefined) request[name] = value;
  }
  return request;
}

function errorText(status, answer, response) {
  const message = answer && answer.message ? answer.message : response.statusText;
  switch (status) {
    case 400: return `Please check the request: ${message}`;
    case 415: return `Please check the request: ${message}`;
    case 429: {
      if (answer && answer.error === "QuotaExceeded") return quotaText(answer);
      const wait = response.headers.get("Retry-After");
      return `Too many requests right now${wait ? `; try again in ${wait} s` : "; try again shortly"}.`;
    }
    case 502: return `No image could be made: ${message}`;
    case 504: return `The request took too long: ${message}`;
    default: return `Something went wrong (${status}): ${message}`;
  }
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function placeholder(index, width, height) {
  const figure = document.createElement("figure");
  figure.className = "pending";
  figure.dataset.index = String(index);
  const frame = document.createElement("div");
  frame.className = "frame";
  frame.style.aspectRatio = `${width} / ${height}`;
  frame.dataset.label = `image ${index + 1}…`;
  const caption = document.createElement("figcaption");
  caption.textContent = `#${index + 1} waiting`;
  figure.append(frame, caption);
  return figure;
}

function caption(figure, index, url, info) {
  const parts = [`#${index + 1}`];
  if (info.endpoint) parts.push(info.endpoint);
  if (info.seconds !== undefined && info.seconds !== null) {
    const seconds = Number(info.seconds);
    parts.push(`${seconds.toFixed(seconds < 10 ? 2 : 1)} s`);
  }
  if (info.seed !== undefined && info.seed !== null) parts.push(`seed ${info.seed}`);
  const captionEl = figure.querySelector("figcaption");
  captionEl.replaceChildren();
  for (const part of parts) {
    const span = document.createElement("span");
    span.textContent = part;
    captionEl.append(span);
  }
  const link = document.createElement("a");
  link.href = url;
  link.target = "_blank";
  link.rel = "noopener";
  link.textContent = "full size";
  captionEl.append(link);
}

function showImage(figure, index, url, info, prompt) {
  return new Promise((resolve) => {
    const img = new Image();
    img.alt = `${prompt} (image ${index + 1})`;
    img.decoding = "async";
    img.onload = () => {
      const frame = figure.querySelector(".frame");
      frame.replaceChildren(img);
      figure.className = "done";
      caption(figure, index, url, info);
      resolve(true);
    };
    img.onerror = () => resolve(false);
    img.src = url;
  });
}

function markFailed(figure, index, error) {
  figure.className = "failed";
  figure.querySelector(".frame").dataset.label = "";
  const captionEl = figure.querySelector("figcaption");
  captionEl.replaceChildren();
  const number = document.createElement("span");
  number.textContent = `#${index + 1}`;
  const badge = document.createElement("span");
  badge.className = "badge";
  badge.textContent = `failed: ${error.error}`;
  badge.title = error.message || "";
  const where = document.createElement("span");
  where.textContent = error.endpoint || "";
  captionEl.append(number, badge, where);
}

async function fetchQuietly(url, options) {
  try {
    return await fetch(url, {cache: "no-store", ...options});
  } catch (error) {
    return null;  // a network hiccup while polling: try again next round
  }
}

// Polls the planned image URLs and the manifest with back-off until the manifest appears.
async function follow(job, figures, prompt, started) {
  const pending = new Set(job.images.map((_, index) => index));
  let delay = POLL_FIRST_MS;
  while (performance.now() - started < GIVE_UP_MS) {
    await sleep(delay);
    let arrived = false;
    await Promise.all([...pending].map(async (index) => {
      const head = await fetchQuietly(job.images[index], {method: "HEAD"});
      if (!head || !head.ok) return;
      pending.delete(index);
      arrived = true;
      const info = {
        endpoint: head.headers.get("x-amz-meta-endpoint"),
        seed: head.headers.get("x-amz-meta-seed"),
        seconds: head.headers.get("x-amz-meta-seconds"),
      };
      await showImage(figures[index], index, job.images[index], info, prompt);
    }));
    const manifest = await fetchQuietly(job.status_url);
    if (manifest && manifest.ok) return manifest.json();
    delay = arrived ? POLL_FIRST_MS : Math.min(POLL_MAX_MS, delay * POLL_GROWTH);
  }
  return null;
}

async function finish(outcome, figures, prompt) {
  if (outcome.status === "refused") {  // Prepare refused the run before making anything (the quota)
    $("images").replaceChildren();
    $("results").hidden = true;
    showStatus("");
    showError(outcome.error === "QuotaExceeded" ? quotaText(outcome) : `The run was refused: ${outcome.message}`);
    return;
  }
  const shown = [];
  for (const image of outcome.images) {
    const figure = figures[image.index];
    if (figure.className !== "done") shown.push(showImage(figure, image.index, image.url, image, prompt));
    else caption(figure, image.index, image.url, image);
  }
  await Promise.all(shown);
  for (const error of outcome.errors) markFailed(figures[error.index], error.index, error);
  const lost = outcome.errors.length ? `, ${outcome.errors.length} failed` : "";
  showStatus(`${outcome.images.length} image(s) in ${outcome.time} s${lost}.`);
  if (!outcome.images.length) showError("No image could be made; see each image for why.");
}

// The page's API call: with the user's ID token where the API takes sign-in (session.js).
const apiFetch = (path, options) => signedInFetch(session, path, options);

// POST /text2image/jobs: its 202 answer, or null once the refusal is shown.
async function startJob(request) {
  const response = await apiFetch("/text2image/jobs", {
    method: "POST",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify(request),
  });
  const answer = await response.json().catch(() => null);
  if (response.status !== 202) {
    showStatus("");
    showError(errorText(response.status, answer, response), answer && answer.field);
    return null;
  }
  return answer;
}

async function run(request) {
  if (!request.text.trim()) {
    showError("Type a prompt first.", "text");
    return;
  }
  showError("");
  running = true;
  send.disabled = true;
  const started = performance.now();
  const ticker = setInterval(() => {
    $("elapsed").textContent = `${((performance.now() - started) / 1000).toFixed(1)} s`;
  }, 100);
  showStatus("Starting…");
  try {
    await configured;  // a prompt sent before /config.json arrived waits to know about sign-in
    const giveUpAt = warm ? started + waitLimitMs(warm) : started;
    for (;;) {
      const job = await startJob(request);
      if (!job) return;
      const [width, height] = [request.width || 768, request.height || 512];
      const figures = job.images.map((_, index) => placeholder(index, width, height));
      $("images").replaceChildren(...figures);
      $("results-prompt").textContent = `“${request.text}”`;
      $("results").hidden = false;
      showStatus(`Generating ${job.images.length} image(s)…`);
      // Cold GPUs: the job waits for them a while; the watch says so at once, and asks for them.
      if (warm) gpus.watch(giveUpAt);
      const outcome = await follow(job, figures, request.text, performance.now());
      // No image for want of GPUs (the job's wait ran out first): the same request again once they are warm.
      if (outcome && warm && coldOutcome(outcome) && (await gpus.watch(giveUpAt))) continue;
      if (outcome) await finish(outcome, figures, request.text);
      else showError("No result after 5 minutes; the request id is " + job.request_id + ".");
      if (session) runs.reload(job.request_id);
      return;
    }
  } catch (error) {
    showStatus("");
    if (error instanceof SignedOut) showSignIn(error.message);
    else showError(`The request failed: ${error.message || error}`);
  } finally {
    clearInterval(ticker);
    $("elapsed").textContent = `${((performance.now() - started) / 1000).toFixed(1)} s`;
    running = false;
    send.disabled = false;
  }
}

// Re-run from My runs: the stored request as it was (its seed too), shown in the form as well.
function rerun(request) {
  if (running) return;
  $("text").value = request.text;
  $("negative_prompt").value = request.negative_prompt || "";
  const preset = Object.keys(PRESETS).find((name) => PRESETS[name][0] === request.width && PRESETS[name][1] === request.height);
  $("resolution").value = preset || "custom";
  $("width").value = request.width;
  $("height").value = request.height;
  for (const name of ["num_images", "seed", "num_inference_steps", "guidance_scale"]) $(name).value = request[name] ?? "";
  toggleCustomSize();
  window.scrollTo({top: 0});
  run(request);
}

// -- GPUs that scale to zero (only when /config.json's "warm" is not null) -------------------

function stopCountdown() {
  clearInterval(countdown);
  countdown = null;
  $("countdown").textContent = "";
}

function startCountdown(seconds) {
  const ends = performance.now() + seconds * 1000;
  const tick = () => {
    const left = Math.ceil((ends - performance.now()) / 1000);
    $("countdown").textContent = left > 0 ? `GPUs: ~${left} s` : "GPUs: any moment";
  };
  tick();
  countdown = setInterval(tick, 1000);
}

// Each endpoint's state, told (aria-live) only when it changes.
function showGpus(text) {
  if ($("gpus").textContent !== text) $("gpus").textContent = text;
}

const gpus = new Gpus(apiFetch, {
  answer(answer) {
    if (allWarm(answer)) {
      showGpus("All GPUs are warm.");
      if (countdown) stopCountdown();
      if (statusIsWarming) showStatus(running ? "The GPUs are warm; the images are on their way." : "The GPUs are warm.");
      return;
    }
    showGpus(`GPUs: ${answer.endpoints.map((endpoint) => `${endpoint.endpoint} ${endpoint.state}`).join(", ")}.`);
    if (!countdown) {
      startCountdown(answer.retry_after);
      showStatus(`The GPUs are starting — about ${answer.retry_after} s.${running ? " The page goes on by itself." : ""}`);
      statusIsWarming = true;
    }
  },
  failed(error) {
    stopCountdown();
    if (error instanceof SignedOut) showSignIn(error.message);
    else showGpus(`Cannot tell how the GPUs are: ${error.message || error}`);
  },
});

$("warm").addEventListener("click", async () => {
  $("warm").disabled = true;
  try {
    await gpus.watch(performance.now() + waitLimitMs(warm));
  } finally {
    $("warm").disabled = false;
  }
});

const runs = new Runs(
  {section: $("runs"), list: $("run-list"), more: $("runs-more"), status: $("runs-status")},
  apiFetch,
  rerun,
  (error) => (error instanceof SignedOut ? showSignIn(error.message) : showError(error.message || String(error))),
);

// -- sign-in (only when /config.json names a user pool) -------------------------------------

function showView(view) {
  const signedIn = view === "signed-in";
  $("sign-in").hidden = view !== "sign-in";
  $("new-password").hidden = view !== "new-password";
  form.hidden = !signedIn;
  $("runs").hidden = !signedIn;
  $("account").hidden = !signedIn;
  if (!signedIn) $("results").hidden = true;
}

function showSignIn(message) {
  challenge = null;
  runs.clear();
  showView("sign-in");
  showStatus("");
  showError(message || "");
  $("username").focus();
}

function showSignedIn() {
  showView("signed-in");
  $("who").textContent = session.username;
  showError("");
  runs.reload();
}

function signInFailed(error) {
  const known = {NotAuthorizedException: "Wrong user name or password.", UserNotFoundException: "Wrong user name or password."};
  showError(known[error.kind] || `Sign-in failed: ${error.message || error}`);
}

// Signed in (null) or a further step: NEW_PASSWORD_REQUIRED gets its form, any other is refused.
function afterSignIn(next) {
  showStatus("");
  if (next === null) showSignedIn();
  else if (next.name === NEW_PASSWORD_REQUIRED) {
    challenge = next;
    showView("new-password");
    showError("");
    showStatus("This is your first sign-in: choose your own password.");
    $("new-password-value").focus();
  } else showError(`Sign-in needs a step this page does not take (${next.name}).`);
}

async function submitting(formElement, work) {
  const button = formElement.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    await work();
  } catch (error) {
    signInFailed(error);
  } finally {
    button.disabled = false;
  }
}

$("sign-in").addEventListener("submit", (event) => {
  event.preventDefault();
  const password = $("password");
  submitting($("sign-in"), async () => {
    showStatus("Signing in…");
    try {
      afterSignIn(await session.signIn($("username").value.trim(), password.value));
    } finally {
      password.value = "";  // never kept, not even in the form
    }
  });
});

$("new-password").addEventListener("submit", (event) => {
  event.preventDefault();
  const chosen = $("new-password-value");
  const again = $("new-password-again");
  if (chosen.value !== again.value) {
    showError("The two passwords differ.");
    again.focus();
    return;
  }
  submitting($("new-password"), async () => {
    try {
      afterSignIn(await session.setNewPassword(challenge, chosen.value));
    } finally {
      chosen.value = again.value = "";
    }
  });
});

$("sign-out").addEventListener("click", () => {
  session.signOut();
  showSignIn("");
});

async function loadConfig() {
  const response = await fetch("/config.json", {cache: "no-store"}).catch(() => null);
  const config = response && response.ok ? await response.json().catch(() => null) : null;
  if (config && config.warm) {
    warm = config.warm;
    $("warm").hidden = $("gpus").hidden = false;
    showGpus(`The GPUs stop when idle; starting them takes about ${warm.coldStartSeconds} s.`);
  }
  if (!config || !config.auth) return;  // no sign-in: the page as it always was
  session = new Session(config.auth);
  if (session.signedIn) showSignedIn();
  else showSignIn("");
}

const configured = loadConfig();

form.addEventListener("submit", (event) => {
  event.preventDefault();
  if (!running) run(buildRequest());
});
$("text").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    form.requestSubmit();
  }
});
$("resolution").addEventListener("change", toggleCustomSize);
toggleCustomSize();
