"""The preview model costs like a GPU: a call of k images takes C + k·T (``--call-overhead C``,
``--latency T``), drawing included, inside the endpoint's call limit. The waits are read from
an injected clock and sleep, not timed."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator

import pytest
from support import sagemaker_runtime

from text2image.local.containers import ContainerError, PreviewContainer
from text2image.local.endpoints import EndpointServer
from text2image.local.stack import container_factory


def body(images: int) -> bytes:
    return json.dumps({"prompt": "a lighthouse", "width": 64, "height": 64, "num_images_per_prompt": images}).encode()


class FakeTime:
    """A clock that moves only by ``drawing`` seconds each time it is read after the first, and a
    sleep that records what it was asked to wait."""

    def __init__(self, drawing: float = 0.0) -> None:
        self.now, self.drawing, self.waits = 100.0, drawing, list[float]()
        self.reads = 0

    def clock(self) -> float:
        self.reads += 1
        if self.reads > 1:
            self.now += self.drawing
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)


def container(latency: float, call_overhead: float, fake: FakeTime) -> PreviewContainer:
    return PreviewContainer(latency, call_overhead, clock=fake.clock, sleep=fake.sleep)


@pytest.mark.parametrize(("latency", "overhead"), [(0.25, 1.0), (0.23, 1.1), (1.0, 0.0), (0.0, 0.5)])
def test_a_call_of_k_images_takes_the_overhead_once_and_the_latency_per_image(latency: float, overhead: float) -> None:
    fake = FakeTime()
    preview = container(latency, overhead, fake)
    answers = [json.loads(preview.invoke(body(k), "application/json", "application/json")) for k in (1, 4, 2)]
    assert [len(answer["generated_images"]) for answer in answers] == [1, 4, 2]
    assert fake.waits == [pytest.approx(overhead + k * latency) for k in (1, 4, 2)]


def test_the_drawing_counts_inside_the_calls_time() -> None:
    fake = FakeTime(drawing=0.4)
    container(0.25, 1.0, fake).invoke(body(4), "application/json", "application/json")
    assert fake.waits == [pytest.approx(1.0 + 4 * 0.25 - 0.4)]


def test_drawing_slower_than_the_budget_waits_nothing_more() -> None:
    fake = FakeTime(drawing=5.0)
    container(0.25, 1.0, fake).invoke(body(2), "application/json", "application/json")
    assert fake.waits == [0.0]


def test_a_refused_request_costs_no_gpu_time() -> None:
    fake = FakeTime()
    with pytest.raises(ContainerError, match="width"):
        container(0.25, 1.0, fake).invoke(b'{"prompt": "x", "width": 65}', "application/json", "application/json")
    assert fake.waits == []


@pytest.fixture
def overhead_past_the_limit() -> Iterator[EndpointServer]:
    """The call's overhead alone (0.3 s) is past the endpoint's limit (0.1 s)."""
    running = EndpointServer(["sd-a"], lambda name: PreviewContainer(call_overhead=0.3), invocation_limit=0.1).start()
    yield running
    running.stop()


def test_a_call_whose_overhead_passes_the_limit_gets_sagemakers_timeout_answer(overhead_past_the_limit: EndpointServer) -> None:
    runtime = sagemaker_runtime(overhead_past_the_limit.url, read_timeout=10)
    with pytest.raises(runtime.exceptions.ModelError, match=r"timed out .*\(limit 0.1 s\)"):
        runtime.invoke_endpoint(EndpointName="sd-a", ContentType="application/json", Body=body(1))
    assert overhead_past_the_limit.stats()["sd-a"]["errors"] == 1


@pytest.mark.parametrize(
    ("model", "latency", "overhead", "says"),
    [
        ("preview", 0.25, -1.0, "--call-overhead must be 0 or more seconds, not -1"),
        ("preview", 0.25, math.nan, "--call-overhead must be 0 or more seconds, not nan"),
        ("preview", 0.25, math.inf, "--call-overhead must be 0 or more seconds, not inf"),
        ("preview", -0.5, 1.0, "--latency must be 0 or more seconds, not -0.5"),
        ("diffusers:.", 0.0, 1.0, "--call-overhead applies to the preview model only: a diffusers model takes the time it takes"),
    ],
)
def test_bad_timings_are_refused_with_a_message(model: str, latency: float, overhead: float, says: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(says)}$"):
        container_factory(model, latency, overhead)
