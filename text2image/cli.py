"""``text2image``: run the local stack (``up``) or make images through an API (``generate``, ``warm``, ``batch``)."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from text2image.batch_download import ImageSaver
from text2image.batch_view import view_for
from text2image.client import (
    DEFAULT_API,
    WARMING_UP,
    ApiCallFailed,
    Waiting,
    all_warm,
    batch_media_type,
    batch_status,
    cold_job_failure,
    download,
    follow_batch,
    follow_job,
    history,
    read_batch_file,
    start_job,
    submit_batch,
    text2image,
    warm,
    warm_until_ready,
    while_warming,
)
from text2image.cognito_client import SignInFailed
from text2image.local.capacity import DEFAULT_COLD_START
from text2image.login import NotSignedIn, OpenApi, id_token, login, logout
from text2image.stop_signals import StopSignals
from text2image.token_store import TokenStore

if TYPE_CHECKING:
    from text2image.local.stack import LocalStack


# Real sleeps and the monotonic clock; tests give main() their own.
REAL_WAITING = Waiting()
# Exit status of a command stopped with Ctrl-C (128 + SIGINT), as a shell reports it.
INTERRUPTED = 130
# Exit status of `batch` for a file the API refuses (or cannot be sent): nothing was started.
BAD_INPUT = 2
# The answers that refuse the file itself: bad lines (400), too large for the API (413), not JSONL or CSV (415).
BAD_INPUT_STATUSES = frozenset({400, 413, 415})


def main(argv: list[str] | None = None, waiting: Waiting = REAL_WAITING) -> int:
    parser = argparse.ArgumentParser(prog="text2image", description="Parallel Stable Diffusion over several endpoints.")
    commands = parser.add_subparsers(dest="command", required=True)

    up = commands.add_parser("up", help="run the whole stack locally (no AWS account needed)")
    up.add_argument("--port", type=int, default=8000, help="gateway port (default 8000; 0 = any free port)")
    up.add_argument("--host", default="127.0.0.1", help="gateway address (default loopback only)")
    up.add_argument("--endpoints", type=int, default=2, help="how many model endpoints (default 2)")
    up.add_argument("--latency", type=float, default=0.0, help="simulated GPU seconds per image of the preview model (default 0)")
    up.add_argument(
        "--call-overhead",
        type=float,
        default=0.0,
        help="simulated GPU seconds per endpoint call of the preview model, paid once however many images it makes (default 0)",
    )
    up.add_argument(
        "--images-per-call",
        type=int,
        default=None,
        metavar="N",
        help="images per endpoint call: 0 = an endpoint's whole share of a request in one call, as far as the per-call limits allow "
        "(default: cdk.json's text2image:imagesPerCall); 1 = one image per call, for GPUs that gain nothing from batches",
    )
    up.add_argument(
        "--model",
        default="preview",
        metavar="preview|diffusers:DIR",
        help="model served by every endpoint: the fast preview renderer (default) or a diffusers pipeline folder, run by endpoint/code/inference.py",
    )
    up.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="NAME=MODE[:COUNT]",
        help="inject a fault: error, throttle, notready, unavailable, slow or garbage",
    )
    up.add_argument(
        "--retry-time-scale",
        type=float,
        default=None,
        help="multiply the workflow's Retry intervals (tests use 0.01; default 1 = as on AWS, or with --scale-to-zero "
        "what calls a warming endpoint again within half the idle window)",
    )
    up.add_argument("--invocation-limit", type=float, default=60.0, help="seconds an endpoint call may take, as SageMaker's 60 s (tests scale it down)")
    up.add_argument(
        "--auth",
        action="store_true",
        help="sign-in as deployed: a Cognito user pool (moto) with a user whose password is printed, and the API takes only its ID tokens",
    )
    up.add_argument(
        "--throttle-rate",
        type=float,
        default=None,
        metavar="R",
        help="API requests per second, sustained (default: the deployed stage's, sized to cdk.json's endpoints)",
    )
    up.add_argument("--throttle-burst", type=int, default=None, metavar="B", help="API requests at once (default: the deployed stage's)")
    up.add_argument(
        "--cors-origin",
        action="append",
        default=[],
        metavar="URL",
        help="an origin (scheme://host[:port]) whose pages may call the API; repeatable (default: same origin only)",
    )
    up.add_argument(
        "--scale-to-zero",
        type=float,
        default=None,
        metavar="IDLE",
        help="endpoints scale to zero as deployed ones with inference components do: no copy after IDLE seconds without a call, "
        "SageMaker's no-capacity answer while cold, serving again a cold start after the first refused call or a warm",
    )
    up.add_argument(
        "--cold-start",
        type=float,
        default=None,
        metavar="S",
        help=f"seconds a cold endpoint takes to serve again (with --scale-to-zero; default {DEFAULT_COLD_START:g})",
    )
    up.add_argument(
        "--batch-concurrency",
        type=int,
        default=0,
        metavar="N",
        help="lines of a batch in flight at once (the batch map's MaxConcurrency; default 0 = two per endpoint)",
    )

    gen = commands.add_parser("generate", help="make images through the API and save them")
    gen.add_argument("prompt")
    gen.add_argument("-n", "--num-images", type=int, default=None)
    gen.add_argument("--negative-prompt")
    gen.add_argument("--width", type=int)
    gen.add_argument("--height", type=int)
    gen.add_argument("--steps", type=int, dest="num_inference_steps")
    gen.add_argument("--guidance", type=float, dest="guidance_scale")
    gen.add_argument("--seed", type=int)
    gen.add_argument("--api", default=DEFAULT_API, help=f"API base URL (default {DEFAULT_API})")
    gen.add_argument("--out", type=Path, default=Path("text2image-output"), help="folder for the JPEGs")
    gen.add_argument("--sync", action="store_true", help="use POST /text2image (one answer at the end) instead of the jobs API")
    gen.add_argument(
        "--max-wait",
        type=float,
        metavar="S",
        help="while the GPUs are starting (503 WarmingUp, or a job that found them cold): give up after S seconds of trying again "
        "(default: 3 x the API's estimate, at least 900)",
    )

    sign_in = commands.add_parser(
        "login",
        help="sign in to an API with sign-in (password from TEXT2IMAGE_PASSWORD or a prompt); generate and history then send the tokens",
    )
    sign_in.add_argument("--api", default=DEFAULT_API, help=f"API base URL (default {DEFAULT_API})")
    sign_in.add_argument("--user", help="user name (default: asked)")
    sign_out = commands.add_parser("logout", help="forget (and revoke) the tokens login keeps for an API")
    sign_out.add_argument("--api", default=DEFAULT_API, help=f"API base URL (default {DEFAULT_API})")
    runs = commands.add_parser("history", help="your runs at an API, newest first (signed in)")
    runs.add_argument("--api", default=DEFAULT_API, help=f"API base URL (default {DEFAULT_API})")
    runs.add_argument("--limit", type=int, default=10, help="runs per page, 1 to 50 (default 10)")
    runs.add_argument("--cursor", help="where the previous page ended (it prints the command for the next page)")

    warm_up = commands.add_parser(
        "warm",
        help="ask for GPUs ahead of a demo where the endpoints scale to zero (signed in when the API has sign-in); prints each endpoint's state",
    )
    warm_up.add_argument("--api", default=DEFAULT_API, help=f"API base URL (default {DEFAULT_API})")
    warm_up.add_argument("--wait", action="store_true", help="ask again every few seconds until every endpoint is warm, printing progress")
    warm_up.add_argument("--max-wait", type=float, metavar="S", help="with --wait: give up after S seconds (default: 3 x the API's estimate, at least 900)")

    bulk = commands.add_parser(
        "batch",
        help="run a file of prompts as one batch: JSONL (.jsonl, .ndjson; one request a line) or CSV (.csv; a text column, the others named "
        "like the request's fields); exit status 0 succeeded, 1 partial or failed, 2 a file refused (each bad line printed)",
    )
    bulk.add_argument("file", type=Path)
    bulk.add_argument("--api", default=DEFAULT_API, help=f"API base URL (default {DEFAULT_API})")
    bulk.add_argument(
        "--wait",
        action="store_true",
        help="follow the batch until it ends: a bar per line (where they do not fit the terminal, an overall bar and the lines as they end)",
    )
    bulk.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="save every image as DIR/<line>/<index>.jpeg, keeping those already there (without --wait: those made so far)",
    )

    artifact = commands.add_parser("model-artifact", help="build model.tar.gz for the SageMaker Hugging Face inference container")
    artifact.add_argument("--model", type=Path, help="a diffusers model folder to pack (default: code only; the endpoint loads SD_MODEL_ID)")
    artifact.add_argument("--out", type=Path, default=Path("dist/model.tar.gz"), help="where to write it (default dist/model.tar.gz)")

    tiny = commands.add_parser("tiny-pipeline", help="save a tiny random-weight Stable Diffusion pipeline (for tests and trying --model diffusers:DIR)")
    tiny.add_argument("folder", type=Path)
    tiny.add_argument("--seed", type=int, default=0, help="weights seed (default 0)")

    args = parser.parse_args(argv)
    commands_run: dict[str, Callable[[argparse.Namespace], int]] = {
        "up": run_up,
        "generate": partial(run_generate, waiting=waiting),
        "warm": partial(run_warm, waiting=waiting),
        "batch": partial(run_batch, waiting=waiting),
        "login": run_login,
        "logout": run_logout,
        "history": run_history,
        "model-artifact": run_model_artifact,
        "tiny-pipeline": run_tiny_pipeline,
    }
    try:
        return commands_run[args.command](args)
    except CommandFailed:
        return 1


def run_model_artifact(args: argparse.Namespace) -> int:
    from text2image.model_artifact import build_model_artifact

    try:
        names = build_model_artifact(args.out, args.model)
    except (ValueError, OSError) as exc:
        print(f"text2image model-artifact: {exc}", file=sys.stderr)
        return 2
    print(f"{args.out}: {len(names)} files, {args.out.stat().st_size / 1e6:.1f} MB")
    return 0


def run_tiny_pipeline(args: argparse.Namespace) -> int:
    from text2image.tiny_pipeline import build_tiny_pipeline

    build_tiny_pipeline(args.folder, args.seed)
    print(f"{args.folder}: tiny random-weight Stable Diffusion pipeline; try text2image up --model diffusers:{args.folder}")
    return 0


def run_up(args: argparse.Namespace) -> int:
    # Imported here: `generate` should not pay for moto and Pillow.
    from text2image.local.gateway import GatewayConfig
    from text2image.local.http_service import PortInUse
    from text2image.local.stack import LocalStack, StackConfig

    if args.cold_start is not None and args.scale_to_zero is None:
        print("text2image up: --cold-start applies to endpoints that scale to zero: give --scale-to-zero IDLE too", file=sys.stderr)
        return 2
    try:
        stack = LocalStack(
            StackConfig(
                port=args.port,
                host=args.host,
                endpoints=args.endpoints,
                latency=args.latency,
                call_overhead=args.call_overhead,
                model=args.model,
                **({} if args.images_per_call is None else {"images_per_call": args.images_per_call}),
                faults=tuple(args.fault),
                retry_time_scale=args.retry_time_scale,
                invocation_limit=args.invocation_limit,
                gateway=GatewayConfig(
                    cors_origins=tuple(args.cors_origin),
                    **({} if args.throttle_rate is None else {"throttle_rate": args.throttle_rate}),
                    **({} if args.throttle_burst is None else {"throttle_burst": args.throttle_burst}),
                ),
                auth=args.auth,
                batch_concurrency=args.batch_concurrency,
                scale_to_zero=args.scale_to_zero,
                **({} if args.cold_start is None else {"cold_start": args.cold_start}),
            )
        )
    except PortInUse as exc:
        print(f'text2image up: {exc}; choose another with make up ARGS="--port N" or text2image up --port N (0 = any free port)', file=sys.stderr)
        return 2
    except (ValueError, OSError) as exc:
        print(f"text2image up: {exc}", file=sys.stderr)
        return 2
    stop_signals = StopSignals()
    stack.start()
    names = ", ".join(stack.config.endpoint_names)
    latency = f", {args.call_overhead:g} s per call + {args.latency:g} s per image" if args.model == "preview" else ""
    per_call = f"up to {stack.config.images_per_call} images" if stack.config.images_per_call else "an endpoint's whole share"
    batching = f"; {per_call} per call (at most {stack.config.max_images_per_call} images, {stack.config.max_pixels_per_call} pixels)"
    token_header = '-H "Authorization: $TOKEN" ' if stack.aws.user_pool else ""
    print(
        f"text2image local stack ready\n"
        f"  web page + API   {stack.gateway.url}/   (POST /text2image; throttled at {stack.gateway.config.throttle_rate:g}/s, "
        f"burst {stack.gateway.config.throttle_burst}, as the deployed stage)\n"
        f"  endpoints        {stack.endpoints.url}   {names}; model {args.model}{latency}{batching}\n"
        f"{scale_to_zero_line(stack)}"
        f"  local AWS        {stack.aws.url}   bucket {stack.aws.bucket}, state machine {stack.aws.state_machine_arn}\n"
        f"{sign_in_lines(stack)}"
        f"  try: curl -s -X POST {stack.gateway.url}/text2image -H 'Content-Type: application/json' "
        f'{token_header}-d \'{{"text":"A flower, fantasy, happy"}}\'\n'
        f"  AWS CLI: AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_DEFAULT_REGION=us-east-1 "
        f"aws --endpoint-url {stack.aws.url} s3 ls s3://{stack.aws.bucket}/ --recursive\n"
        f"  events: a JSON request copied to s3://{stack.aws.bucket}/prompts/ or put on the bus as source "
        f"text2image, detail-type 'Text2Image Request' starts a run\n"
        f"  Ctrl-C stops it.",
        flush=True,
    )
    stop_signals.wait()
    stack.stop()
    print("text2image local stack stopped", flush=True)
    return 0


def scale_to_zero_line(stack: LocalStack) -> str:
    """The banner's line on scale to zero (``--scale-to-zero``, ``--cold-start``); none without it."""
    if stack.config.scale_to_zero is None:
        return ""
    config = stack.config
    every, wait = stack.aws.config.warming_retry_seconds, stack.aws.config.cold_wait_seconds
    # As on AWS (a 200 s wait, a cold start of minutes), a job that waits less than a cold start ends EndpointCold.
    short = "; shorter than a cold start: a job started cold ends EndpointCold" if wait < config.cold_start + every else ""
    return (
        f"  scale to zero    endpoints scale to zero after {config.scale_to_zero:g} s idle; a cold start takes {config.cold_start:g} s; "
        f"a job calls a warming endpoint every {every:.3g} s and waits up to {wait:.3g} s (Retry intervals x {config.retry_scale:.3g}{short})\n"
    )


def sign_in_lines(stack: LocalStack) -> str:
    """The banner's lines on sign-in (``--auth``) and the origins allowed (``--cors-origin``)."""
    lines = ""
    pool = stack.aws.user_pool
    if pool is not None:
        lines += (
            f"  sign-in          user {pool.username}, password {pool.password}   (user pool {pool.pool_id}, client {pool.client_id}; "
            f"the API takes its ID tokens only)\n"
            f"  token: TOKEN=$(aws cognito-idp initiate-auth --endpoint-url {stack.aws.url} --region {pool.region} --auth-flow USER_PASSWORD_AUTH "
            f"--client-id {pool.client_id} --auth-parameters USERNAME={pool.username},PASSWORD='{pool.password}' "
            f"--query AuthenticationResult.IdToken --output text)\n"
        )
    if stack.config.gateway.cors_origins:
        lines += f"  CORS origins     {', '.join(stack.config.gateway.cors_origins)}\n"
    return lines


def run_login(args: argparse.Namespace) -> int:
    store = TokenStore()
    try:
        username = args.user or input("User name: ")
        password = os.environ.get("TEXT2IMAGE_PASSWORD") or getpass.getpass(f"Password for {username}: ")
        session = login(args.api, username, password, ask_new_password, store)
    except EOFError:  # no terminal to ask on (a script, CI): say what to give instead
        print("text2image login: nothing to read the answer from; give --user NAME and TEXT2IMAGE_PASSWORD (TEXT2IMAGE_NEW_PASSWORD)", file=sys.stderr)
        return 2
    except OpenApi as exc:
        print(f"text2image login: {exc}", file=sys.stderr)
        return 0
    except SignInFailed as exc:
        print(f"text2image login: sign-in refused: {exc}", file=sys.stderr)
        return 1
    except ApiCallFailed as exc:  # only /config.json is read from the API itself
        print(f"text2image login: cannot tell how to sign in to {args.api}: its /config.json answered {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"text2image login: cannot reach {args.api} or its user pool: {exc}", file=sys.stderr)
        return 1
    print(f"signed in to {args.api} as {session.username}; tokens kept in {store.path} (yours only, mode 0600)")
    return 0


def ask_new_password() -> str:
    """NEW_PASSWORD_REQUIRED (a user's first sign-in with the temporary password an administrator
    set): TEXT2IMAGE_NEW_PASSWORD, or asked twice."""
    chosen = os.environ.get("TEXT2IMAGE_NEW_PASSWORD")
    if chosen:
        return chosen
    print("This is your first sign-in: choose a new password.", file=sys.stderr)
    while True:
        chosen = getpass.getpass("New password: ")
        if chosen == getpass.getpass("New password again: "):
            return chosen
        print("The two differ; once more.", file=sys.stderr)


def run_logout(args: argparse.Namespace) -> int:
    session, not_revoked = logout(args.api, TokenStore())
    if session is None:
        print(f"not signed in to {args.api}", file=sys.stderr)
        return 0
    if not_revoked:
        print(f"Cognito did not revoke the refresh token ({not_revoked}); it is forgotten here all the same", file=sys.stderr)
    print(f"signed out of {args.api} ({session.username})")
    return 0


class CommandFailed(Exception):
    """A command's failure, already told on stderr: its exit status is 1."""


@contextmanager
def api_call(api: str) -> Iterator[None]:
    """A signed-in command's call to the API: not signed in, an API error (a 401 says how to sign
    in) or an unreachable API is told on stderr and ends the command with ``CommandFailed``."""
    try:
        yield
    except NotSignedIn as exc:
        print(exc, file=sys.stderr)
        raise CommandFailed from None
    except ApiCallFailed as exc:
        print(f"\r{exc}", file=sys.stderr)
        if exc.status == 401:
            print(f"sign in first: text2image login --api {api}", file=sys.stderr)
        for error in exc.body.get("errors", []):
            print(f"  image {error['index']} on {error['endpoint']}: {error['error']}: {error['message']}", file=sys.stderr)
        if exc.body.get("error") == WARMING_UP:
            print(f"the GPUs are still starting: text2image warm --api {api} --wait, then try again", file=sys.stderr)
        raise CommandFailed from None
    except OSError as exc:
        print(f"\rcannot reach the API at {api}: {exc}", file=sys.stderr)
        raise CommandFailed from None


def run_history(args: argparse.Namespace) -> int:
    with api_call(args.api):
        page = history(args.api, id_token(args.api, TokenStore()), args.limit, args.cursor)
    for run in page["runs"]:
        print(run_lines(run))
    if not page["runs"]:
        print("no runs" + (" after that cursor" if args.cursor else " yet"), file=sys.stderr)
    if page["next"]:
        print(f"more: text2image history --api {args.api} --limit {args.limit} --cursor {page['next']}", file=sys.stderr)
    return 0


def run_lines(run: dict[str, Any]) -> str:
    """One run of ``history``: when, how it went, its request, then one image URL a line."""
    request = run["request"]
    failed = f", {run['errors']} failed" if run["errors"] else ""
    head = f"{run['started']}  {run['status']}  {len(run['images'])} image(s){failed} in {run['seconds']} s  {run['request_id']}"
    details = f"  {json.dumps(request['text'], ensure_ascii=False)}  {request['width']}x{request['height']}, seed {request.get('seed')}"
    return "\n".join([head, details, *(f"  {url}" for url in run["images"])])


def run_generate(args: argparse.Namespace, waiting: Waiting) -> int:
    fields = ("num_images", "negative_prompt", "width", "height", "num_inference_steps", "guidance_scale", "seed")
    request: dict[str, Any] = {"text": args.prompt, **{f: getattr(args, f) for f in fields if getattr(args, f) is not None}}
    try:
        with api_call(args.api):
            token = id_token(args.api, TokenStore())
            if args.sync:
                outcome, folder = generate_sync(args.api, request, args.out, token, replace(waiting, max_wait=args.max_wait))
            else:
                outcome, folder = generate_job(args.api, request, args.out, token, replace(waiting, max_wait=args.max_wait))
    except KeyboardInterrupt:
        print("\nstopped; nothing more is asked of the API", file=sys.stderr)
        return INTERRUPTED
    if outcome is None:
        print(f"no result after the workflow's time limit; what arrived is in {folder}", file=sys.stderr)
        return 1
    for image in outcome["images"]:
        print(f"{folder / (str(image['index']) + '.jpeg')}  ({image['endpoint']}, seed {image['seed']}, {image['seconds']} s)")
    for error in outcome["errors"]:
        print(f"image {error['index']} failed on {error['endpoint']}: {error['error']}: {error['message']}", file=sys.stderr)
    print(f"{len(outcome['images'])} image(s) in {outcome['time']} s, saved in {folder}", file=sys.stderr)
    return 0 if outcome["images"] else 1


def progress_bar(done: int, total: int, started: float, width: int = 24) -> str:
    filled = round(width * done / total) if total else width
    return f"\r[{'#' * filled}{'-' * (width - filled)}] {done}/{total} images  {time.monotonic() - started:5.1f} s"


def generate_job(api: str, request: dict[str, Any], out: Path, token: str | None, waiting: Waiting) -> tuple[dict[str, Any] | None, Path]:
    """The jobs route: each image is saved (and the bar advances) as soon as it is written. A job
    that found every endpoint cold (a cold start outlasts the workflow's wait) is sent again once
    they should be warm, saying so, as the sync route's 503 WarmingUp is."""
    return while_warming(lambda: one_job(api, request, out, token), announce_warming, waiting)


def announce_warming(seconds: float, failure: ApiCallFailed) -> None:
    estimate = failure.body.get("retry_after", seconds)
    print(f"the GPUs are starting (about {estimate} s); trying again in {seconds:g} s, Ctrl-C stops", file=sys.stderr, flush=True)


def one_job(api: str, request: dict[str, Any], out: Path, token: str | None) -> tuple[dict[str, Any] | None, Path]:
    started = time.monotonic()
    job = start_job(api, request, token=token)
    folder = out / job["request_id"]
    folder.mkdir(parents=True, exist_ok=True)
    total, saved = len(job["images"]), []
    print(progress_bar(0, total, started), end="", file=sys.stderr, flush=True)

    def save(index: int, url: str) -> None:
        (folder / f"{index}.jpeg").write_bytes(download(url))
        saved.append(index)
        print(progress_bar(len(saved), total, started), end="", file=sys.stderr, flush=True)

    outcome = follow_job(job, save)
    print(file=sys.stderr)
    if outcome and outcome["status"] == "refused":  # over the daily quota: the manifest carries the 429 body
        raise ApiCallFailed(429, outcome)
    cold = cold_job_failure(api, outcome) if outcome else None
    if cold is not None:
        raise cold
    if outcome and outcome["status"] == "failed":
        raise ApiCallFailed(502, {"error": "GenerationFailed", "message": "no image could be made", "errors": outcome["errors"]})
    return outcome, folder


def generate_sync(api: str, request: dict[str, Any], out: Path, token: str | None, waiting: Waiting) -> tuple[dict[str, Any] | None, Path]:
    """The synchronous route: one answer when every image is done, then the downloads. While
    the GPUs are starting (503 WarmingUp) it says so and tries again when the API said to."""
    started = time.monotonic()

    def attempt() -> dict[str, Any]:
        done = threading.Event()

        def tick() -> None:
            while not done.wait(0.2):
                print(f"\rgenerating... {time.monotonic() - started:5.1f} s", end="", file=sys.stderr, flush=True)

        threading.Thread(target=tick, daemon=True).start()
        try:
            return text2image(api, request, token=token)
        finally:
            done.set()
            print(file=sys.stderr)

    answer = while_warming(attempt, announce_warming, waiting)
    folder = out / answer["request_id"]
    folder.mkdir(parents=True, exist_ok=True)
    for image in answer["images"]:
        (folder / f"{image['index']}.jpeg").write_bytes(download(image["url"]))
    return answer, folder


def run_warm(args: argparse.Namespace, waiting: Waiting) -> int:
    def ask() -> dict[str, Any]:
        return warm(args.api, token)

    with api_call(args.api):
        token = id_token(args.api, TokenStore())
        try:
            if args.wait:
                ready = warm_until_ready(ask, print_warmth, replace(waiting, max_wait=args.max_wait))
            else:
                print_warmth(answer := ask())
                ready = all_warm(answer)
        except ApiCallFailed as exc:
            if exc.status != 404:
                raise
            print(f"{args.api}: this stack's endpoints do not scale to zero: nothing to warm")
            return 0
        except KeyboardInterrupt:
            print("\nstopped waiting; the endpoints go on warming", file=sys.stderr)
            return INTERRUPTED
    if ready:
        print("all endpoints are warm")
    elif args.wait:
        print("the endpoints are not all warm yet; run text2image warm --wait again, or look at the endpoints in the SageMaker console", file=sys.stderr)
        return 1
    else:
        print(f"warming; wait for them with: text2image warm --api {args.api} --wait", file=sys.stderr)
    return 0


def run_batch(args: argparse.Namespace, waiting: Waiting) -> int:
    try:
        media_type = batch_media_type(args.file)
        content = read_batch_file(args.file)
    except (ValueError, OSError) as exc:
        print(f"text2image batch: {exc}", file=sys.stderr)
        return BAD_INPUT
    saver = None if args.out is None else ImageSaver(args.out)
    again = f"text2image batch {args.file} --api {args.api} --wait" + ("" if args.out is None else f" --out {args.out}")
    try:
        with api_call(args.api):
            try:
                submitted = submit_batch(args.api, content, media_type, id_token(args.api, TokenStore()))
            except ApiCallFailed as exc:
                if exc.status not in BAD_INPUT_STATUSES:
                    raise
                print_refusal(args.file, exc)
                return BAD_INPUT
            page = f"{args.api.rstrip('/')}/batch.html?id={submitted['batch_id']}"
            print(f"batch   {submitted['batch_id']}\nlines   {submitted['lines']}\nstatus  {submitted['status_url']}\npage    {page}", flush=True)
            if not args.wait:
                return save_so_far(submitted["status_url"], saver, again) if saver else 0
            final = follow_and_save(submitted["status_url"], saver, waiting)
    except KeyboardInterrupt:
        # Submitted or not (the POST may have reached the API), the same command finds the batch again.
        print(f"\nstopped; a batch the API took goes on. Follow it with: {again} (the same file is the same batch: nothing runs twice)", file=sys.stderr)
        return INTERRUPTED
    print(f"batch {final['status']}: {final['done']}/{final['total']} lines, {final['failed']} failed, {final['images']} images")
    if saver:
        print_saved(saver)
    return 0 if final["status"] == "succeeded" else BAD_INPUT if final["status"] == "invalid" else 1


def follow_and_save(status_url: str, saver: ImageSaver | None, waiting: Waiting) -> dict[str, Any]:
    """``--wait``: the batch shown as it runs (and its images saved as its lines end) until it ends."""
    view = view_for(sys.stderr, waiting.clock)

    def on_status(document: dict[str, Any]) -> None:
        view.show(document)
        if saver:
            saver.save(document)

    try:
        return follow_batch(status_url, on_status, waiting)
    finally:
        view.finish()  # whole rows before anything else is printed, however it ended


def print_refusal(file: Path, refused: ApiCallFailed) -> None:
    """A refused file: why, then each bad line as the API named it."""
    print(f"text2image batch: {file} refused ({refused.status}): {refused.body.get('message', '')}", file=sys.stderr)
    for bad in refused.body.get("lines", []):
        print(f"line {bad['line']}: {bad['message']}", file=sys.stderr)


def save_so_far(status_url: str, saver: ImageSaver, again: str) -> int:
    """``--out`` without ``--wait``: the images of the lines ended so far, and how to get the rest."""
    document = batch_status(status_url)
    saver.save(document)
    print_saved(saver)
    if document["done"] < document["total"]:
        print(f"{document['done']} of {document['total']} lines have ended; the rest: {again}", file=sys.stderr)
    return 0


def print_saved(saver: ImageSaver) -> None:
    print(f"{saver.saved + saver.kept} images in {saver.out}/<line>/<index>.jpeg ({saver.kept} already there)")


def print_warmth(answer: dict[str, Any]) -> None:
    """One line per endpoint (its state and copies of the model), and the API's estimate."""
    for endpoint in answer["endpoints"]:
        copies = endpoint["copies"]
        print(f"{endpoint['endpoint']}  {endpoint['state']}  ({copies} {'copy' if copies == 1 else 'copies'} of {endpoint['component']})", flush=True)
    if answer["retry_after"]:
        print(f"about {answer['retry_after']} s until the GPUs are warm", flush=True)


if __name__ == "__main__":
    sys.exit(main())
