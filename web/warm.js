// GPUs that scale to zero (/config.json's "warm" is not null): POST /text2image/warm asks every
// endpoint with no copy of the model for one and answers each endpoint's state. It is
// idempotent, so the page asks again every few seconds to follow the GPUs until all are warm.
// One watch at a time: a run waiting for the GPUs and the "Warm up GPUs" button share it.

// Asked again every WARM_POLL_MS, or a third of the time the GPUs still need where that is
// shorter (never under WARM_POLL_MIN_MS), so that a copy is seen warm before it can go idle again
// (a local stack's idle window is seconds); `text2image warm --wait` asks on the same rule.
const WARM_POLL_MS = 5000;
const WARM_POLL_MIN_MS = 500;

function warmPollMs(answer) {
  return Math.min(WARM_POLL_MS, Math.max(WARM_POLL_MIN_MS, (answer.retry_after * 1000) / 3));
}

// How long a run goes on trying while the GPUs start: 3 x the stack's cold start estimate, at
// least 15 minutes (as `text2image generate` waits).
const WAIT_MIN_MS = 15 * 60 * 1000;
const WAIT_FACTOR = 3;
const COLD = "EndpointCold";

export function waitLimitMs(warm) {
  return Math.max(WAIT_MIN_MS, WAIT_FACTOR * warm.coldStartSeconds * 1000);
}

// A run that made no image because an endpoint was cold (Collect's WarmingUp): its calls
// started the GPUs, so the same request is worth sending again once they are warm.
export function coldOutcome(outcome) {
  return outcome.images.length === 0 && outcome.errors.some((error) => error.error === COLD);
}

export function allWarm(answer) {
  return answer.endpoints.every((endpoint) => endpoint.state === "warm");
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class Gpus {
  // apiFetch: the page's API call (the ID token when signed in). view: {answer(answer), failed(error)}.
  constructor(apiFetch, view) {
    this.apiFetch = apiFetch;
    this.view = view;
    this.watching = null;
  }

  async ask() {
    const response = await this.apiFetch("/text2image/warm", {method: "POST"});
    const answer = await response.json().catch(() => null);
    if (response.status !== 202 || !answer) throw new Error((answer && answer.message) || `the warm route answered ${response.status}`);
    return answer;
  }

  // Resolves true once every endpoint is warm; false when the route fails or `until`
  // (performance.now() ms) passes first. A watch already on is joined, not doubled.
  watch(until) {
    if (!this.watching) this.watching = this.follow(until).finally(() => { this.watching = null; });
    return this.watching;
  }

  async follow(until) {
    for (;;) {
      let answer;
      try {
        answer = await this.ask();
      } catch (error) {
        this.view.failed(error);
        return false;
      }
      this.view.answer(answer);
      if (allWarm(answer)) return true;
      if (performance.now() >= until) return false;
      await sleep(Math.min(warmPollMs(answer), until - performance.now()));
    }
  }
}
