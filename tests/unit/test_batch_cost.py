"""bench/cost.py's batch figures: the transitions it bills are the batch workflow file's, and its
arithmetic (known inputs -> known outputs)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from unit.test_cost import PRICES, assumptions

from bench import cost
from text2image.paths import BATCH_STATE_MACHINE

STANDARD = {**PRICES, "stepfunctions.standard.state_transition": 0.025 / 1000, "s3.standard.gb_month": 0.023}


def definition() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(BATCH_STATE_MACHINE.read_text(encoding="utf-8"))
    return loaded


def test_the_billed_transitions_are_the_batch_files_states() -> None:
    top = definition()
    batch = top["States"][top["StartAt"]]
    assert batch["Type"] == "Parallel"
    run, progress = batch["Branches"]
    (lines,) = [state for state in run["States"].values() if state["Type"] == "Map"]
    # A line: its start (the map bills one per child) and each state of its item processor.
    assert 1 + len(lines["ItemProcessor"]["States"]) == cost.CHILD_TRANSITIONS
    # The parent's own: the Parallel, then each state of the run branch (the map, the final look).
    assert 1 + len(run["States"]) == cost.PARENT_TRANSITIONS
    # A status look goes round the progress branch's loop: from its start back to it.
    state, loop = progress["StartAt"], []
    while state not in loop:
        loop.append(state)
        step = progress["States"][state]
        state = step.get("Next") or next(choice["Next"] for choice in step["Choices"])
    assert state == progress["StartAt"] and len(loop) == cost.LOOK_TRANSITIONS


def test_a_batch_runs_its_images_over_every_gpu() -> None:
    assert cost.batch_seconds(1000, 4, 2.5, 2) == pytest.approx(5000)


def test_batch_overhead_by_part() -> None:
    # 10 lines of 4 images on 2 GPUs at 2.5 s: 50 s, so 5 looks while running and the last one.
    parts = cost.batch_overhead(2.5, assumptions(), cost.BatchAssumptions(lines=10, progress_seconds=10), STANDARD)
    transitions = 10 * 2 + 3 + 6 * 3
    assert parts[f"Step Functions Standard ({transitions} transitions)"] == pytest.approx(transitions * 0.025 / 1000)
    assert parts["Lambda status (7 looks)"] == pytest.approx(7 * cost.lambda_cost(0.2, 512, STANDARD))
    assert parts["S3 PUT/LIST (input, status, results)"] == pytest.approx((2 + 2 * 7 + 3) * 0.005 / 1000)
    assert parts["S3 GET (input, status, each line's manifest)"] == pytest.approx((1 + 7 + 10) * 0.0004 / 1000)


def test_the_batch_figure_needs_the_standard_price() -> None:
    table = {"region": "us-east-1", "currency": "USD", "prices": {}}
    assert "Step Functions Standard: price not found, so no batch figure." in cost.report(assumptions(), {**PRICES, "s3.standard.gb_month": 0.023}, table)
    assert "| **batch overhead** |" in cost.report(assumptions(), STANDARD, table)
