"""A line of a batch in Prepare: the batch workflow's child input ``{"request", "batch": {"id",
"line", "deal_from"}}`` is unwrapped (sources.py), and its images are dealt from ``deal_from``
(planning.py), so a batch of small lines goes round every endpoint as one stream would."""

from __future__ import annotations

import json
from typing import Any, get_type_hints

import pytest
from handler_events import call

import batch_input
import batches
import sources
from planning import Endpoint, Request, assign, parse_endpoints, plan
from request_validation import ValidationError
from sources import BatchLine, Source, normalize
from text2image.paths import ROOT

FOUR = parse_endpoints("sd-1,sd-2,sd-3,sd-4")
REQUEST: Request = {"text": "a", "negative_prompt": "", "width": 256, "height": 256, "num_images": 2, "num_inference_steps": 20, "guidance_scale": 7.5}


def never_read(bucket: str, key: str) -> bytes:
    raise AssertionError("a batch line reads no file")


def test_two_image_lines_on_four_endpoints_go_round_them_all() -> None:
    assert [assign(2, FOUR, deal_from=2 * line) for line in range(3)] == [["sd-1", "sd-2"], ["sd-3", "sd-4"], ["sd-1", "sd-2"]]


@pytest.mark.parametrize("spec", ["sd-1,sd-2,sd-3", "a:5,b,c", "big:2,small:1"])
@pytest.mark.parametrize("deal_from", [0, 1, 4, 7, 1000])
def test_dealing_from_k_continues_the_deal_of_the_first_k_images(spec: str, deal_from: int) -> None:
    endpoints = parse_endpoints(spec)
    assert assign(5, endpoints, deal_from) == assign(deal_from + 5, endpoints)[deal_from:]


def test_a_plan_dealt_from_k_starts_at_that_endpoint_with_the_same_images() -> None:
    dealt = plan({**REQUEST, "seed": 7}, "batch-x-2", FOUR, per_call=16, deal_from=2)
    assert [(lane["endpoint"], [[i["index"] for i in call["images"]] for call in lane["calls"]]) for lane in dealt["lanes"]] == [
        ("sd-3", [[0]]),
        ("sd-4", [[1]]),
    ]
    # Which endpoint makes an image changes nothing else: its index, seed and key stay.
    first = plan({**REQUEST, "seed": 7}, "batch-x-2", FOUR, per_call=16)
    assert sorted(i["seed"] for lane in dealt["lanes"] for c in lane["calls"] for i in c["images"]) == [7, 8]
    assert {k: v for k, v in dealt.items() if k != "lanes"} == {k: v for k, v in first.items() if k != "lanes"}


def test_equal_weights_repeat_every_endpoint_count() -> None:
    endpoints = (Endpoint("a"), Endpoint("b"))
    assert assign(3, endpoints, deal_from=3) == assign(3, endpoints, deal_from=1) == ["b", "a", "b"]


def test_a_batch_line_is_unwrapped_with_where_it_is_dealt_from() -> None:
    line: BatchLine = {"id": "batch-abc", "line": 3, "deal_from": 4}
    source = normalize({"request": {"text": "a"}, "batch": line}, "batch-abc-3", never_read)
    assert source == Source({"text": "a"}, "batch-abc-3", "request", batch=line)
    assert (source.deal_from, source.sync, source.caller) == (4, False, None)
    assert normalize({"request": {"text": "a"}}, "exec-1", never_read).deal_from == 0
    signed_in = normalize({"request": {"text": "a"}, "batch": line, "caller": {"sub": "u-1", "username": "ana"}}, "batch-abc-3", never_read)
    assert (signed_in.batch, signed_in.caller) == (line, {"sub": "u-1", "username": "ana"})


@pytest.mark.parametrize(
    "batch",
    [
        None,
        "batch-abc",
        {"id": "batch-abc", "line": 3},
        {"id": "batch-abc", "line": 3, "deal_from": -1},
        {"id": "batch-abc", "line": 0, "deal_from": 0},
        {"id": "batch-abc", "line": 3, "deal_from": True},
        {"id": "batch-abc", "line": 3, "deal_from": 2.0},
        {"id": "../x", "line": 3, "deal_from": 2},
        {"id": "batch-abc", "line": 3, "deal_from": 2, "more": 1},
    ],
)
def test_a_malformed_batch_line_is_refused_by_name(batch: Any) -> None:
    with pytest.raises(ValidationError) as raised:
        normalize({"request": {"text": "a"}, "batch": batch}, "batch-abc-3", never_read)
    assert raised.value.field == "batch"


def test_prepare_plans_a_batch_line_from_its_deal(lambda_env: dict[str, str]) -> None:
    import prepare

    line = {"request": {"text": "a", "num_images": 3}, "batch": {"id": "batch-abc", "line": 2, "deal_from": 1}}
    planned = call(prepare, {"input": line, "execution_name": "batch-abc-2"})  # ENDPOINT_NAMES sd-1,sd-2: sd-2 deals first, 2 of the 3
    assert [(lane["endpoint"], [[i["index"] for i in c["images"]] for c in lane["calls"]]) for lane in planned["lanes"]] == [
        ("sd-2", [[0, 1]]),
        ("sd-1", [[2]]),
    ]
    assert planned["request_id"] == "batch-abc-2" and planned["capacity_deadline"] > 0  # a job: it waits for cold endpoints


def test_the_batch_workflow_passes_each_stored_line_to_prepare_as_a_batch_line() -> None:
    """What the submit stores, the batch workflow's map reads item by item and passes to each child
    run as the wrapping sources.py unwraps."""
    workflow = json.loads((ROOT / "statemachine" / "text2image_batch.asl.json").read_text(encoding="utf-8"))
    lines = workflow["States"]["Batch"]["Branches"][0]["States"]["Lines"]
    item = {name: value for name, value in lines["ItemSelector"].items() if "Map.Item.Value" in value}
    assert item == {name: f"{{% $states.context.Map.Item.Value.{name} %}}" for name in get_type_hints(batch_input.StoredLine)}
    (child,) = lines["ItemProcessor"]["States"].values()
    assert set(child["Arguments"]["Input"]) == {"request", "batch", "caller"} <= sources.WRAPPER_KEYS
    # The batch's caller (the submit's execution input) goes to every line: each counts against their quota.
    assert child["Arguments"]["Input"]["caller"] == lines["ItemSelector"]["caller"] == "{% $states.input.caller %}"
    assert "caller" in get_type_hints(batches.BatchExecutionInput)
    assert set(child["Arguments"]["Input"]["batch"]) == set(get_type_hints(BatchLine))
    assert child["Arguments"]["Name"] == "{% $states.input.request_id %}"
