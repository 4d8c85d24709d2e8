"""Cold-start budget of the three handler modules (`make bench`).

For each Lambda folder, in fresh processes configured like the deployed function (tracing on,
so Powertools' Tracer loads the X-Ray SDK as on AWS): the import time of the handler module
(`python -X importtime`, median of 5 cold processes) and the first and second invocation
against a local stack. Target: each module imports in ≤ 0.3 s. Writes bench/results/coldstart.md.

    uv run python bench/coldstart.py
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from text2image.deploy_settings import context_defaults
from text2image.local.aws import BUCKET, PUBLIC_BASE_URL_PARAMETER
from text2image.local.lambdas import LambdaContext
from text2image.local.process import LocalStackProcess
from text2image.manifest import WORKFLOW_LAMBDAS
from text2image.paths import FUNCTIONS

RESULTS = Path(__file__).parent / "results" / "coldstart.md"
COLD_PROCESSES = 5
TARGET_S = 0.3
CALL = {
    "request_id": "coldstart",
    "endpoint": "sd-local-1",
    "images": [{"index": 0, "seed": 1, "key": "images/coldstart/0.jpeg"}],
    "prompt": "cold start",
    "negative_prompt": "",
    "width": 512,
    "height": 512,
    "num_inference_steps": 20,
    "guidance_scale": 7.5,
    "capacity_deadline": 0.0,
}
EVENTS: dict[str, Any] = {
    "prepare": {"input": {"text": "cold start", "num_images": 2}, "execution_name": "coldstart"},
    "invoke_endpoint": CALL,
    "collect": {
        "plan": {"request_id": "coldstart", "request": {"text": "cold start"}, "lanes": [], "caller": None, "reservation": None, "capacity_deadline": 0.0},
        "results": [[{"images": [{"index": 0, "key": "images/coldstart/0.jpeg", "seed": 1, "endpoint": "sd-local-1", "seconds": 0.1}]}]],
        "started": "2026-01-01T00:00:00Z",
    },
}


def lambda_environment(stack: LocalStackProcess | None) -> dict[str, str]:
    env = {
        "PATH": os.environ["PATH"],
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "BUCKET_NAME": BUCKET,
        "ENDPOINT_NAMES": "sd-local-1",
        "IMAGES_PER_CALL": str(context_defaults()["imagesPerCall"]),
        "MAX_IMAGES_PER_CALL": str(context_defaults()["maxImagesPerCall"]),
        "MAX_PIXELS_PER_CALL": str(context_defaults()["maxPixelsPerCall"]),
        "PUBLIC_BASE_URL_PARAMETER": PUBLIC_BASE_URL_PARAMETER,
        "COLD_START_SECONDS": str(context_defaults()["endpointColdStartSeconds"]),
        "POWERTOOLS_SERVICE_NAME": "text2image",
        "POWERTOOLS_METRICS_NAMESPACE": "text2image",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }
    if stack is not None:
        endpoints = re.search(r"endpoints\s+(http://\S+)", stack.banner)
        aws = re.search(r"local AWS\s+(http://\S+)", stack.banner)
        assert endpoints and aws
        env |= {
            "AWS_ENDPOINT_URL_S3": aws.group(1),
            "AWS_ENDPOINT_URL_SSM": aws.group(1),
            "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": endpoints.group(1),
            # No X-Ray daemon here: the SDK is loaded (the import cost counts) but sends nothing.
            "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
        }
    return env


def import_seconds(folder: str, module: str) -> float:
    """Cumulative import time of ``module`` in a new interpreter (-X importtime), in seconds."""
    env = lambda_environment(None) | {"PYTHONPATH": str(FUNCTIONS / folder)}
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"], env=env, capture_output=True, text=True, check=True)
    line = next(line for line in reversed(done.stderr.splitlines()) if line.rstrip().endswith(f" {module}"))
    return int(line.split("|")[1]) / 1e6


def probe(folder: str, module: str) -> None:
    """Run in a fresh process: import, then two invocations; print the three times as JSON."""
    sys.path.insert(0, str(FUNCTIONS / folder))
    started = time.perf_counter()
    handler = __import__(module).handler
    imported = time.perf_counter() - started
    times = []
    for _ in range(2):
        started = time.perf_counter()
        handler(EVENTS[folder], LambdaContext(f"text2image-{folder}"))
        times.append(time.perf_counter() - started)
    print(json.dumps({"import": imported, "first": times[0], "second": times[1]}))


def invocation_seconds(stack: LocalStackProcess, folder: str, module: str) -> dict[str, float]:
    env = lambda_environment(stack) | {"PYTHONPATH": os.pathsep.join([str(FUNCTIONS.parent)])}
    done = subprocess.run([sys.executable, __file__, "--probe", folder, module], env=env, capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    rows = []
    with LocalStackProcess("--endpoints", "1") as stack:
        for function in WORKFLOW_LAMBDAS:
            module = function.handler.split(".")[0]
            imports = [import_seconds(function.folder, module) for _ in range(COLD_PROCESSES)]
            calls = invocation_seconds(stack, function.folder, module)
            rows.append((module, statistics.median(imports), calls["first"], calls["second"]))
            print(rows[-1], flush=True)
    lines = [
        "# Cold start of the handler modules",
        "",
        f"`make bench` (`bench/coldstart.py`): import time by `python -X importtime`, median of {COLD_PROCESSES} new processes, "
        "configured like the deployed function (Powertools Tracer on: it loads the X-Ray SDK); invocations against a local stack "
        f"in a new process. Target: import ≤ {TARGET_S} s.",
        "",
        "| handler module | import s | target | first invocation s | second invocation s |",
        "|---|---|---|---|---|",
        *(
            f"| {module} | {imported:.3f} | {'met' if imported <= TARGET_S else 'MISSED'} | {first:.3f} | {second:.3f} |"
            for module, imported, first, second in rows
        ),
        "",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--probe":
        probe(sys.argv[2], sys.argv[3])
    else:
        sys.exit(main())
