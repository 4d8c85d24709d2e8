"""The local engine leans on two moto internals; these tests fail loudly when moto moves them."""

from __future__ import annotations

import json
import uuid

from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.jsonata import jsonata as moto_jsonata
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication
from moto.stepfunctions.parser.models import StepFunctionsParserBackend
from support import EXECUTION_DEADLINE, run_workflow

from text2image.local import engine
from text2image.local.aws import ROLE_ARN
from text2image.local.stack import LocalStack


def test_moto_still_has_the_hooks_we_bind(stack: LocalStack) -> None:
    assert moto_jsonata._eval_jsonata is engine.evaluate_jsonata, "moto's JSONata hook moved: update text2image/local/engine.py"
    wait = retrier_decl.time.sleep  # type: ignore[attr-defined]
    assert wait is engine._scaled_sleep, "moto's Retry wait moved: update text2image/local/engine.py"
    assert BaseExecutionWorkerCommunication.terminated is engine._terminated, "moto's end-of-execution hook moved"
    assert StepFunctionsParserBackend.start_execution is engine._start_execution, "moto's StartExecution moved"


def test_an_execution_started_without_a_name_is_named_with_a_uuid_as_on_aws(stack: LocalStack) -> None:
    """What `aws stepfunctions start-execution` without --name does: twice, two runs."""
    request = '{"text": "unnamed", "num_images": 1}'
    arns = [stack.aws.sfn.start_execution(stateMachineArn=stack.aws.state_machine_arn, input=request)["executionArn"] for _ in range(2)]
    for arn in arns:
        assert engine.wait_until_ended(arn, EXECUTION_DEADLINE)
        execution = stack.aws.sfn.describe_execution(executionArn=arn)
        assert execution["status"] == "SUCCEEDED", (execution.get("error"), execution.get("cause"))
        name = arn.rsplit(":", 1)[1]
        assert str(uuid.UUID(name)) == name == execution["name"]
        assert json.loads(execution["output"])["request_id"] == name
    assert arns[0] != arns[1]


def test_waiting_for_an_execution_that_never_started_times_out(stack: LocalStack) -> None:
    assert engine.wait_until_ended("arn:aws:states:us-east-1:123456789012:execution:text2image:nope", 0.05) is False


def test_jsonata_runs_through_moto_with_awkward_strings(stack: LocalStack) -> None:
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "Shape",
        "States": {
            "Shape": {
                "Type": "Pass",
                "Output": {
                    "text": "{% $states.input.text %}",
                    "n": "{% $states.input.n + 1 %}",
                    "name": "{% $states.context.Execution.Name %}",
                },
                "End": True,
            }
        },
    }
    arn = stack.aws.sfn.create_state_machine(name="jsonata-probe", definition=json.dumps(definition), roleArn=ROLE_ARN)["stateMachineArn"]
    text = "quote \" apostrophe ' backslash \\ newline \n emoji 🌸"
    result = run_workflow(stack, {"text": text, "n": 1}, name="probe-1", state_machine_arn=arn)
    assert result["status"] == "SUCCEEDED", result
    assert json.loads(result["output"]) == {"text": text, "n": 2, "name": "probe-1"}


def test_jsonata_errors_fail_the_execution_not_the_engine() -> None:
    try:
        engine.evaluate_jsonata("$undefinedFunction(")
    except moto_jsonata.JSONataException as exc:
        assert exc.error == "UNKNOWN"
    else:
        raise AssertionError("a broken expression must raise JSONataException")
