"""The workflow state between the Lambdas. Each Lambda folder stands alone (it imports nothing
of another), so each declares the shapes it reads or writes at its own boundary; these tests
hold the declarations together: field by field across the folders, against the workflow file
that carries the state between them, and the request against its schema."""

from __future__ import annotations

import json
import re
from types import ModuleType
from typing import Any, NotRequired, get_args, get_origin, get_type_hints, is_typeddict

import pytest

import collect_response
import planning
from request_validation import SCHEMA
from text2image.paths import STATE_MACHINE

STATES = json.loads(STATE_MACHINE.read_text(encoding="utf-8"))["States"]
LANE = STATES["Generate"]["ItemProcessor"]["States"]["Lane"]
INVOKE = LANE["ItemProcessor"]["States"]["InvokeEndpoint"]
OPAQUE = ("opaque",)  # dict[str, Any]: a field a folder passes on without reading it


def shape(hint: Any) -> Any:
    """What a type says about the JSON it describes: a TypedDict by its fields (NotRequired kept),
    a generic by its origin and arguments; the class names, which differ per folder, drop out."""
    if is_typeddict(hint):
        return {name: shape(field) for name, field in get_type_hints(hint, include_extras=True).items()}
    if hint == dict[str, Any]:
        return OPAQUE
    origin = get_origin(hint)
    if origin is not None:
        return (origin, tuple(shape(argument) for argument in get_args(hint)))
    return hint


def reads_what_is_written(reader: Any, writer: Any) -> bool:
    """Every field the reader declares is written, with the same shape; a field the reader
    passes on unread (dict[str, Any]) may be any object."""
    if reader == OPAQUE:
        return isinstance(writer, dict) or writer == OPAQUE
    if isinstance(reader, dict):
        return isinstance(writer, dict) and all(name in writer and reads_what_is_written(field, writer[name]) for name, field in reader.items())
    return bool(reader == writer)


@pytest.fixture
def handlers(lambda_env: dict[str, str]) -> dict[str, ModuleType]:
    import collect
    import invoke_endpoint
    import prepare

    return {"prepare": prepare, "invoke_endpoint": invoke_endpoint, "collect": collect}


def test_invoke_endpoint_reads_the_work_item_prepare_plans(handlers: dict[str, ModuleType]) -> None:
    assert shape(handlers["invoke_endpoint"].WorkItem) == shape(planning.WorkItem)


def test_collect_reads_the_call_result_invoke_endpoint_returns(handlers: dict[str, ModuleType]) -> None:
    assert shape(collect_response.CallResult) == shape(handlers["invoke_endpoint"].CallResult)


def test_collect_reads_of_the_plan_what_prepare_writes(handlers: dict[str, ModuleType]) -> None:
    assert reads_what_is_written(shape(collect_response.Plan), shape(handlers["prepare"].PrepareOutput))
    assert shape(handlers["prepare"].PrepareOutput)["request"] == shape(planning.Request)


def test_the_shape_comparison_tells_a_changed_field() -> None:
    written = {"index": int, "key": str}
    assert reads_what_is_written({"index": int}, written)
    assert not reads_what_is_written({"index": str}, written)
    assert not reads_what_is_written({"seconds": float}, written)
    assert reads_what_is_written({"request": OPAQUE}, {"request": {"text": str}})
    assert not reads_what_is_written({"request": OPAQUE}, {"request": str})


def test_the_catch_passes_on_a_caught_failure_made_of_the_work_item(handlers: dict[str, ModuleType]) -> None:
    """A caught call names its endpoint and each of its planned images, which Collect lists as lost."""
    (catch,) = INVOKE["Catch"]
    failure, work_item = shape(collect_response.CaughtFailure), shape(handlers["invoke_endpoint"].WorkItem)
    assert set(catch["Output"]) == set(failure)
    for name, expression in catch["Output"].items():
        source = re.fullmatch(r"\{% \$states\.(input|errorOutput)\.(\w+) %\}", expression)
        assert source, f"{name}: {expression}"
        if source[1] == "input":
            assert failure[name] == work_item[source[2]], name
        else:  # Step Functions' error name and cause are strings; a cause may be absent
            assert failure[name] == {"Error": str, "Cause": (NotRequired, (str,))}[source[2]], name


def test_each_lambda_receives_the_fields_its_input_declares(handlers: dict[str, ModuleType]) -> None:
    assert set(STATES["Prepare"]["Arguments"]["Payload"]) == set(shape(handlers["prepare"].PrepareInput))
    assert INVOKE["Arguments"]["Payload"] == "{% $states.input %}"  # one call of a lane
    # A lane's item is a planned call, with the request id, endpoint and capacity deadline of its
    # lane and the plan's generation (held once in the plan).
    assert LANE["Items"] == "{% $states.input.calls %}" and "calls" in shape(planning.Lane)
    where = {"request_id": str, "endpoint": str, "capacity_deadline": float}
    assert shape(planning.WorkItem) == shape(planning.Call) | shape(planning.Generation) | where
    expected = {name: f"{{% $states.context.Map.Item.Value.{name} %}}" for name in shape(planning.Call)}
    expected |= {name: f"{{% $states.input.{name} %}}" for name in where}
    expected |= {name: f"{{% $states.input.generation.{name} %}}" for name in shape(planning.Generation)}
    assert LANE["ItemSelector"] == expected
    assert STATES["Generate"]["Items"] == "{% $states.input.lanes %}" and "lanes" in shape(planning.Plan)
    assert STATES["Generate"]["ItemSelector"] == {
        "request_id": "{% $states.input.request_id %}",
        "endpoint": "{% $states.context.Map.Item.Value.endpoint %}",
        "calls": "{% $states.context.Map.Item.Value.calls %}",
        "generation": "{% $states.input.generation %}",
        "capacity_deadline": "{% $states.input.capacity_deadline %}",
    }
    assert shape(handlers["prepare"].PrepareOutput)["capacity_deadline"] is float
    assert set(shape(planning.Lane)) == {"endpoint", "calls"} and shape(planning.Plan)["request_id"] is str
    assert shape(planning.Plan)["generation"] == shape(planning.Generation)
    assert set(STATES["Collect"]["Arguments"]["Payload"]) == set(shape(collect_response.CollectInput))
    assert STATES["Generate"]["Output"] == {"plan": "{% $states.input %}", "results": "{% $states.result %}"}


JSON_TYPES = {"string": str, "integer": int, "number": float}


def test_the_validated_request_is_the_schemas() -> None:
    """Every field of request.schema.json, of its JSON type; present after validation when the
    schema requires it or gives it a default, NotRequired otherwise."""
    expected = {}
    for name, rule in SCHEMA["properties"].items():
        always = name in SCHEMA["required"] or "default" in rule
        expected[name] = JSON_TYPES[rule["type"]] if always else (NotRequired, (JSON_TYPES[rule["type"]],))
    assert shape(planning.Request) == expected
