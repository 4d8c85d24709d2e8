"""A bounded load run against a text2image API: N sync requests at concurrency C, every
answer checked (a 200's images all fetchable as JPEGs; a refusal carries Retry-After).
Used by bench/load.py and, small, by the tests."""

from __future__ import annotations

import json
import statistics
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from text2image.client import ApiCallFailed, fetch, text2image


@dataclass
class Outcome:
    status: int
    seconds: float
    retry_after: str | None = None
    images: int = 0
    images_fetched: int = 0
    request_id: str | None = None


@dataclass
class LoadReport:
    outcomes: list[Outcome] = field(default_factory=list)
    wall_seconds: float = 0.0

    @property
    def statuses(self) -> Counter[int]:
        return Counter(o.status for o in self.outcomes)

    def percentile(self, q: float, status: int = 200) -> float:
        times = sorted(o.seconds for o in self.outcomes if o.status == status)
        if not times:
            return float("nan")
        return times[min(len(times) - 1, round(q * (len(times) - 1)))]

    @property
    def lost_images(self) -> int:
        """Images a 200 promised that could not be fetched."""
        return sum(o.images - o.images_fetched for o in self.outcomes if o.status == 200)

    @property
    def refusals_without_retry_after(self) -> int:
        return sum(1 for o in self.outcomes if o.status in (429, 503) and not o.retry_after)

    def summary(self) -> dict[str, Any]:
        ok = [o.seconds for o in self.outcomes if o.status == 200]
        return {
            "requests": len(self.outcomes),
            "statuses": dict(sorted(self.statuses.items())),
            "p50_s": round(self.percentile(0.5), 3),
            "p95_s": round(self.percentile(0.95), 3),
            "mean_s": round(statistics.mean(ok), 3) if ok else None,
            "lost_images": self.lost_images,
            "refusals_without_retry_after": self.refusals_without_retry_after,
            "wall_s": round(self.wall_seconds, 2),
        }


def _one(api: str, number: int, num_images: int) -> Outcome:
    started = time.perf_counter()
    try:
        answer = text2image(api, {"text": f"load test prompt #{number}", "num_images": num_images}, timeout=120)
    except ApiCallFailed as exc:
        return Outcome(exc.status, time.perf_counter() - started, exc.headers.get("Retry-After"))
    outcome = Outcome(200, time.perf_counter() - started, request_id=answer["request_id"])
    urls = json.loads(answer["body"])
    outcome.images = len(urls)
    for url in urls:
        status, headers, data = fetch(url)
        if status == 200 and headers.get("Content-Type") == "image/jpeg" and data[:2] == b"\xff\xd8":
            outcome.images_fetched += 1
    return outcome


def run_load(api: str, requests: int, concurrency: int, num_images: int) -> LoadReport:
    report = LoadReport()
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        report.outcomes = list(pool.map(lambda n: _one(api, n, num_images), range(requests)))
    report.wall_seconds = time.perf_counter() - started
    return report
