"""The local engine leans on moto internals; these tests fail loudly when moto moves them.
They reach the binding through LocalAWS, the one door to the emulator: ``aws.engine_hooks``
is its test-only view of what the binding set."""

from __future__ import annotations

import json
import uuid

import pytest
from support import EXECUTION_DEADLINE, run_workflow

from text2image.local.aws import ROLE_ARN, engine_hooks
from text2image.local.stack import LocalStack


@pytest.mark.parametrize("hook", sorted(engine_hooks()))
def test_moto_still_has_the_hooks_we_bind(stack: LocalStack, hook: str) -> None:
    held, bound = engine_hooks()[hook]
    assert held is bound, f"{hook} moved: update text2image/local/engine.py"


def test_an_execution_started_without_a_name_is_named_with_a_uuid_as_on_aws(stack: LocalStack) -> None:
    """What `aws stepfunctions start-execution` without --name does: twice, two runs."""
    request = '{"text": "unnamed", "num_images": 1}'
    arns = [stack.aws.sfn.start_execution(stateMachineArn=stack.aws.state_machine_arn, input=request)["executionArn"] for _ in range(2)]
    for arn in arns:
        assert stack.aws.wait(arn, EXECUTION_DEADLINE)
        execution = stack.aws.sfn.describe_execution(executionArn=arn)
        assert execution["status"] == "SUCCEEDED", (execution.get("error"), execution.get("cause"))
        name = arn.rsplit(":", 1)[1]
        assert str(uuid.UUID(name)) == name == execution["name"]
        assert json.loads(execution["output"])["request_id"] == name
    assert arns[0] != arns[1]


def test_waiting_for_an_execution_that_never_started_times_out(stack: LocalStack) -> None:
    assert stack.aws.wait("arn:aws:states:us-east-1:123456789012:execution:text2image:nope", 0.05) is False


def jsonata_machine(stack: LocalStack, name: str, output: dict[str, str]) -> str:
    """A one-state JSONata state machine on the local AWS answering ``output``."""
    definition = {"QueryLanguage": "JSONata", "StartAt": "Shape", "States": {"Shape": {"Type": "Pass", "Output": output, "End": True}}}
    return str(stack.aws.sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE_ARN)["stateMachineArn"])


def test_jsonata_runs_through_moto_with_awkward_strings(stack: LocalStack) -> None:
    output = {"text": "{% $states.input.text %}", "n": "{% $states.input.n + 1 %}", "name": "{% $states.context.Execution.Name %}"}
    arn = jsonata_machine(stack, "jsonata-probe", output)
    text = "quote \" apostrophe ' backslash \\ newline \n emoji 🌸"
    result = run_workflow(stack, {"text": text, "n": 1}, name="probe-1", state_machine_arn=arn)
    assert result["status"] == "SUCCEEDED", result
    assert json.loads(result["output"]) == {"text": text, "n": 2, "name": "probe-1"}


def test_jsonata_errors_fail_the_execution_not_the_engine(stack: LocalStack) -> None:
    broken = jsonata_machine(stack, "jsonata-broken", {"x": "{% $undefinedFunction( %}"})
    result = run_workflow(stack, {}, state_machine_arn=broken)
    assert result["status"] == "FAILED" and "JSONataException" in result["cause"] and "Expected ) before end of expression" in result["cause"], result
    after = run_workflow(stack, {"n": 1}, state_machine_arn=jsonata_machine(stack, "jsonata-after-broken", {"n": "{% $states.input.n + 1 %}"}))
    assert (after["status"], json.loads(after["output"])) == ("SUCCEEDED", {"n": 2}), after
