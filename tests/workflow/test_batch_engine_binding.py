"""What the batch workflow needs of moto's Step Functions engine beyond the request workflow, each
on a small JSONata state machine of the local AWS: a Distributed Map reading JSON Lines from S3,
its tolerated failure threshold, a ResultWriter with Arguments, and startExecution.sync:2 of an
Express child. text2image/local/engine.py binds what moto 5.2.5 lacks; these fail loudly when moto
changes under the binding (tests/workflow/test_engine_binding.py checks the hooks themselves)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.reader_config.input_type import InputTypeValue
from support import keys_under, run_workflow

from text2image.local.aws import BUCKET, ROLE_ARN
from text2image.local.stack import LocalStack

PARTITION = "aws"


def distributed_map(items_key: str, *, tolerated_percentage: int = 0, result_prefix: str | None = None) -> dict[str, Any]:
    """A Standard state machine whose Distributed Map reads ``items_key`` (JSONL) and fails each
    item whose ``fail`` is true."""
    lines: dict[str, Any] = {
        "Type": "Map",
        "ItemReader": {
            "Resource": f"arn:{PARTITION}:states:::s3:getObject",
            "ReaderConfig": {"InputType": "JSONL"},
            "Arguments": {"Bucket": BUCKET, "Key": items_key},
        },
        "ToleratedFailurePercentage": f"{{% {tolerated_percentage} %}}",  # as the batch workflow gives it
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "Fails?",
            "States": {
                "Fails?": {"Type": "Choice", "Choices": [{"Condition": "{% $states.input.fail %}", "Next": "Fail"}], "Default": "Done"},
                "Fail": {"Type": "Fail", "Error": "LineFailed"},
                "Done": {"Type": "Pass", "Output": {"n": "{% $states.input.n %}"}, "End": True},
            },
        },
        "End": True,
    }
    if result_prefix is not None:
        lines["ResultWriter"] = {
            "Resource": f"arn:{PARTITION}:states:::s3:putObject",
            "Arguments": {"Bucket": BUCKET, "Prefix": "{% $states.input.prefix %}"},
        }
    return {"QueryLanguage": "JSONata", "StartAt": "Lines", "States": {"Lines": lines}}


def create(stack: LocalStack, definition: dict[str, Any], kind: str = "STANDARD") -> str:
    name = f"probe-{uuid.uuid4().hex[:12]}"
    return str(stack.aws.sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE_ARN, type=kind)["stateMachineArn"])


def put_lines(stack: LocalStack, text: str) -> str:
    key = f"probe/{uuid.uuid4().hex}.jsonl"
    stack.aws.s3.put_object(Bucket=BUCKET, Key=key, Body=text.encode())
    return key


def test_moto_still_lacks_json_lines_so_the_binding_is_needed() -> None:
    """When this fails, moto reads JSONL itself: drop JsonLinesTransformer and its two hooks from engine.py."""
    assert "JSONL" not in InputTypeValue.__members__


def test_a_distributed_map_reads_json_lines_one_item_per_line_blank_lines_skipped(stack: LocalStack) -> None:
    key = put_lines(stack, '{"n": 1, "fail": false}\n\n   \n{"n": 2, "fail": false}\r\n{"n": 3, "fail": false}')
    execution = run_workflow(stack, {}, state_machine_arn=create(stack, distributed_map(key)))
    assert execution["status"] == "SUCCEEDED", execution
    assert json.loads(execution["output"]) == [{"n": 1}, {"n": 2}, {"n": 3}]


def test_a_line_that_is_not_json_fails_the_item_reader(stack: LocalStack) -> None:
    key = put_lines(stack, '{"n": 1, "fail": false}\nnot json\n')
    execution = run_workflow(stack, {}, state_machine_arn=create(stack, distributed_map(key)))
    assert (execution["status"], execution["error"]) == ("FAILED", "States.ItemReaderFailed"), execution


@pytest.mark.parametrize(
    ("failing", "total", "outcome"),
    [(1, 20, "SUCCEEDED"), (2, 20, "SUCCEEDED"), (3, 20, "FAILED"), (1, 3, "FAILED"), (0, 3, "SUCCEEDED")],
    ids=["5%", "10%", "15%", "33%", "none"],
)
def test_more_failed_items_than_tolerated_fail_the_map_run(stack: LocalStack, failing: int, total: int, outcome: str) -> None:
    """ToleratedFailurePercentage 10: the map run fails once more than 10 % of its items failed
    (AWS: "the maximum percentage of failed items before the Map Run fails")."""
    key = put_lines(stack, "\n".join(json.dumps({"n": n, "fail": n < failing}) for n in range(total)))
    execution = run_workflow(stack, {}, state_machine_arn=create(stack, distributed_map(key, tolerated_percentage=10)))
    assert execution["status"] == outcome, execution
    if outcome == "FAILED":
        assert execution["error"] == "States.ExceedToleratedFailureThreshold"
        assert f"{failing} of {total} items failed" in execution["cause"]
    else:
        assert [result for result in json.loads(execution["output"]) if result] == [{"n": n} for n in range(failing, total)]


def test_a_result_writer_with_jsonata_arguments_writes_the_map_runs_manifest_under_its_prefix(stack: LocalStack) -> None:
    key = put_lines(stack, '{"n": 1, "fail": false}\n{"n": 2, "fail": false}\n')
    prefix = f"probe-results/{uuid.uuid4().hex}"
    execution = run_workflow(stack, {"prefix": prefix}, state_machine_arn=create(stack, distributed_map(key, result_prefix=prefix)))
    assert execution["status"] == "SUCCEEDED", execution
    (manifest,) = keys_under(stack, prefix + "/")
    assert manifest.endswith("/manifest.json")
    assert json.loads(execution["output"])["ResultWriterDetails"] == {"Bucket": BUCKET, "Key": manifest}


def test_start_execution_sync_2_runs_an_express_child_and_answers_as_aws_does(stack: LocalStack) -> None:
    """The child's description with Output parsed (.sync:2), named as AWS names it; the child's
    failure fails the task with States.TaskFailed."""
    echo = {"QueryLanguage": "JSONata", "StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "Output": "{% $states.input %}", "End": True}}}
    child = create(stack, echo, "EXPRESS")
    failing_child = create(stack, {"StartAt": "No", "States": {"No": {"Type": "Fail", "Error": "ChildFailed"}}}, "EXPRESS")
    parent = create(
        stack,
        {
            "QueryLanguage": "JSONata",
            "StartAt": "Child",
            "States": {
                "Child": {
                    "Type": "Task",
                    "Resource": f"arn:{PARTITION}:states:::states:startExecution.sync:2",
                    "Arguments": {"StateMachineArn": "{% $states.input.child %}", "Name": "{% $states.input.name %}", "Input": {"line": 7}},
                    "End": True,
                }
            },
        },
    )
    name = f"line-{uuid.uuid4().hex[:8]}"
    execution = run_workflow(stack, {"child": child, "name": name}, state_machine_arn=parent)
    assert execution["status"] == "SUCCEEDED", execution
    answer = json.loads(execution["output"])
    assert (answer["Name"], answer["Status"], answer["Output"], answer["Input"]) == (name, "SUCCEEDED", {"line": 7}, {"line": 7})
    assert answer["ExecutionArn"].endswith(f":{name}") and isinstance(answer["StartDate"], int)
    failed = run_workflow(stack, {"child": failing_child, "name": name}, state_machine_arn=parent)
    assert (failed["status"], failed["error"]) == ("FAILED", "States.TaskFailed"), failed
