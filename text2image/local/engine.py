"""Bind moto's Step Functions engine to what it lacks, in one place.

moto 5.2.x runs executions only when ``execute_state_machine`` is configured, and its
ASL interpreter's JSONata evaluator is not wired (the hook is left as ``None``): we set
the one and bind jsonata-python to the other. StartExecution without a name runs an
execution named ``None`` in moto; AWS names it with a UUID, and so does the binding. Its ``Retry`` waits really sleep: the
local stack can scale them down here (``retry_time_scale``) so fault tests stay quick
while the ASL file keeps its production intervals. And the end of an execution is
announced here, so a caller waits for it instead of polling DescribeExecution.

The batch workflow (a Distributed Map whose items run the request workflow) needs more:

- JSON Lines: moto's ItemReader reads CSV and JSON files, not ``ReaderConfig.InputType`` ``JSONL``
  (one item per line, as AWS reads it).
- Tolerated failures: moto runs every item of a map run and counts the failures, but never fails
  the run; AWS fails it with ``States.ExceedToleratedFailureThreshold`` once more items failed
  than ``ToleratedFailurePercentage`` allows. Here the threshold is checked when the last item has
  ended (AWS stops a map run as soon as it is passed), and a map that declares both a tolerated
  count and a percentage fails when both are passed (AWS: either).
- ResultWriter's ``Arguments``: moto's grammar has only ``Parameters`` (JSONPath) there; its
  preprocessor builds a ResultWriter from either. moto writes the run's manifest.json, not the
  result files.
- ``states:startExecution(.sync:2)``: moto passes the task's arguments to boto3 as written
  (``StateMachineArn``) and hands the raw answer back (``executionArn``); LocalStack's parser,
  which moto vendors, renames both with botocore's model, and so does the binding. Between two
  looks at the child, moto sleeps 0.5 s; here the pause ends as soon as any execution ends, as AWS
  learns of a child's end at once. A child may be Express (the request workflow is).
- A Parallel state whose branch fails with a ``States.`` error (the map's threshold, a child's
  States.TaskFailed) fails with that error: moto failed the whole execution with States.Runtime.

Private to the AWS stand-in: only aws.py imports this module (``LocalAWS.wait`` is the way in
for everyone else; ``aws.engine_hooks`` lets tests/workflow/test_engine_binding.py fail
loudly when moto moves a hook).
"""

from __future__ import annotations

import datetime
import functools
import json
import logging
import re
import threading
import time
import types
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, cast

import boto3
import botocore.session
import jsonata
from botocore.model import OperationModel, ServiceModel
from moto.core.config import default_user_config
from moto.stepfunctions.parser.api import HistoryEventType, MapRunFailedEventDetails
from moto.stepfunctions.parser.asl.antlr.runtime.ASLParser import ASLParser
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.error_name import ErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent, FailureEventException
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import StatesErrorNameType
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader import item_reader_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval.resource_output_transformer.transformer import ResourceOutputTransformer
from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.reader_config.input_type import InputType
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.distributed_iteration_component import (
    DistributedIterationComponent,
    DistributedIterationComponentEvalInput,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_parallel import branches_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_callback, state_task_service_sfn
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn import StateTaskServiceSfn
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.jsonata import jsonata as moto_jsonata
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.asl.utils import boto_client
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

_lock = threading.Lock()
_retry_time_scale = 1.0
# Executions that ended, newest last, so a waiter is woken instead of polling the API.
_ended: OrderedDict[str, None] = OrderedDict()
_ended_changed = threading.Condition()
_ENDED_REMEMBERED = 10_000
_moto_terminated = BaseExecutionWorkerCommunication.terminated
_moto_start_execution = StepFunctionsParserBackend.start_execution
_moto_input_type_init = InputType.__init__
_moto_transformer_for = item_reader_decl.resource_output_transformer_for  # type: ignore[attr-defined]
_moto_map_run = DistributedIterationComponent._map_run
_moto_result_writer_field = ASLParser.result_writer_field
_moto_sfn_normalise_parameters = StateTaskServiceSfn._normalise_parameters
_moto_sfn_sync_resolver = StateTaskServiceSfn._build_sync_resolver
_moto_sfn_sync2_resolver = StateTaskServiceSfn._build_sync2_resolver
_moto_parse = AmazonStateLanguageParser.parse
_moto_boto_client_for = boto_client.boto_client_for
# The modules whose tasks call a service: Lambda (every function of the workflows), Step Functions (a batch's lines).
_TASK_CLIENT_MODULES = {"Lambda tasks'": lambda_eval_utils, "Step Functions tasks'": state_task_service_sfn}
SYNC_LOOK_SECONDS = 1.0
# ATN states of moto's generated ASLParser: result_writer_field's own, and the one from which
# items_reader_field parses its Arguments.
_RESULT_WRITER_FIELD_STATE = 170
_ITEM_READER_ARGUMENTS_STATE = 865
JSON_LINES = "JSONL"


# moto composes every evaluation as "(" + "$name:=<JSON>;"... + expression + ")", sometimes
# wrapped in $exists(...) or $type(...) to check the result. Parsing that text means parsing
# the whole state (the plan, the results) as a JSONata literal, in pure Python, several times
# per state. The fast path below reads the declarations with the JSON decoder instead, binds
# them as variables, and compiles each distinct expression once; anything it does not
# recognise is evaluated as moto composed it.
_DECLARATION = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*):=")
_WRAPPERS = ("$exists(", "$type(")
_decoder = json.JSONDecoder()
_compiled: dict[str, jsonata.Jsonata] = {}
_evaluating = threading.Lock()  # compiled expressions are not known to be thread-safe


def _split(expression: str) -> tuple[str, dict[str, Any]] | None:
    """(expression to compile, variables) for moto's composed form, or None."""
    wrapper = next((w for w in _WRAPPERS if expression.startswith(w) and expression.endswith(")")), "")
    body = expression[len(wrapper) : len(expression) - (1 if wrapper else 0)]
    if not (body.startswith("(") and body.endswith(")")):
        return None
    body, position, variables = body[1:-1], 0, {}
    while match := _DECLARATION.match(body, position):
        try:
            value, end = _decoder.raw_decode(body, match.end())
        except ValueError:
            return None
        if body[end : end + 1] != ";":
            return None
        variables[match.group(1)] = value
        position = end + 1
    final = body[position:]
    return (f"{wrapper}({final}))" if wrapper else final), variables


def evaluate_jsonata(expression: str) -> Any:
    """Evaluate one JSONata expression as moto composes it (variables declared inline)."""
    split = _split(expression)
    try:
        with _evaluating:
            if split is None:
                result = jsonata.Jsonata(expression).evaluate(None)
            else:
                text, variables = split
                compiled = _compiled.get(text)
                if compiled is None:
                    compiled = _compiled[text] = jsonata.Jsonata(text)
                result = compiled.evaluate(None, variables)
    except Exception as exc:  # jsonata-python raises plain Exceptions; moto expects this one
        raise moto_jsonata.JSONataException("UNKNOWN", str(exc)) from exc
    # jsonata-python returns its own list type; a JSON round trip hands moto plain values
    # (and fails on anything that is not JSON, as AWS would).
    return json.loads(json.dumps(result))


def _terminated(self: BaseExecutionWorkerCommunication) -> None:
    _moto_terminated(self)
    with _ended_changed:
        _ended[self.execution.exec_arn] = None
        while len(_ended) > _ENDED_REMEMBERED:
            _ended.popitem(last=False)
        _ended_changed.notify_all()


def _start_execution(self: StepFunctionsParserBackend, state_machine_arn: str, name: str | None = None, *args: Any, **kwargs: Any) -> Any:
    """StartExecution as AWS runs it: with no name given, the execution is named with a UUID."""
    return _moto_start_execution(self, state_machine_arn, str(uuid.uuid4()) if name is None else name, *args, **kwargs)


def _input_type_init(self: InputType, input_type: str) -> None:
    """moto's InputType takes CSV and JSON only (its enum); JSONL is kept as the string itself."""
    if input_type == JSON_LINES:
        self.input_type_value = JSON_LINES  # type: ignore[assignment, misc]
    else:
        _moto_input_type_init(self, input_type)


class JsonLinesTransformer(ResourceOutputTransformer):
    """The items of a JSON Lines object, as AWS reads them: one JSON value per line, up to MaxItems.
    Blank lines are skipped; a line that is not JSON fails the reader (States.ItemReaderFailed)."""

    def _eval_body(self, env: Environment) -> None:
        reader_config = env.stack.pop()
        text: str = env.stack.pop()
        try:
            items = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            error = StatesErrorName(typ=StatesErrorNameType.StatesItemReaderFailed)
            details = MapRunFailedEventDetails(error=error.error_name, cause=f"a line is not JSON: {exc}")
            raise FailureEventException(
                FailureEvent(env, error, HistoryEventType.TaskFailed, cast("EventDetails", {"mapRunFailedEventDetails": details}))
            ) from None
        env.stack.append(items[: reader_config["MaxItemsValue"]])


def _transformer_for(input_type: InputType) -> ResourceOutputTransformer:
    if input_type.input_type_value == JSON_LINES:  # type: ignore[comparison-overlap]
        return JsonLinesTransformer()
    return _moto_transformer_for(input_type)


def _map_run(self: DistributedIterationComponent, env: Environment, eval_input: DistributedIterationComponentEvalInput) -> None:
    """moto's map run, failed as AWS fails it when more items failed than tolerated."""
    _moto_map_run(self, env, eval_input)
    record = eval_input.map_run_record
    total = record.item_counter.total.get()
    failed = record.item_counter.failed.get() + record.item_counter.timed_out.get()
    if failed > record.tolerated_failure_count and failed * 100 > record.tolerated_failure_percentage * total:
        error = StatesErrorName(typ=StatesErrorNameType.StatesExceedToleratedFailureThreshold)
        cause = f"{failed} of {total} items failed: the tolerated failure threshold ({record.tolerated_failure_percentage:g} %) was exceeded"
        details = MapRunFailedEventDetails(error=error.error_name, cause=cause)
        raise FailureEventException(FailureEvent(env, error, HistoryEventType.MapRunFailed, cast("EventDetails", {"mapRunFailedEventDetails": details})))


def _result_writer_field(self: ASLParser) -> Any:
    """A ResultWriter's field, in moto's generated parser: ``Arguments`` (JSONata) as well as the
    ``Resource`` and ``Parameters`` (JSONPath) its grammar has. Its preprocessor already builds a
    ResultWriter from either kind of arguments; only the grammar lacks this one."""
    if self._input.LA(1) != ASLParser.ARGUMENTS:
        return _moto_result_writer_field(self)  # type: ignore[no-untyped-call]
    context = ASLParser.Result_writer_fieldContext(self, self._ctx, self.state)
    self.enterRule(context, _RESULT_WRITER_FIELD_STATE, ASLParser.RULE_result_writer_field)
    try:
        self.enterOuterAlt(context, 3)
        # Parsed as ItemReader's Arguments are, from that ATN state: the same rule with the same follow.
        self.state = _ITEM_READER_ARGUMENTS_STATE
        self.arguments_decl()  # type: ignore[no-untyped-call]
    finally:
        self.exitRule()
    return context


def _branch_error_name(error_name: str | None) -> ErrorName:
    """The error a Parallel state fails with, its failed branch's: moto names it with a custom error
    name, which may not start with ``States.``, so a branch failing with States.TaskFailed or
    States.ExceedToleratedFailureThreshold failed the whole execution with States.Runtime instead."""
    if error_name is not None and error_name.startswith("States."):
        return StatesErrorName.from_name(error_name)
    return CustomErrorName(error_name)


def _operation(task: StateTaskServiceSfn, boto_service_name: str | None, service_action_name: str | None) -> OperationModel:
    """The botocore model of the API call a service task makes (Step Functions' StartExecution...)."""
    service = _service_model(task._get_boto_service_name(boto_service_name))
    action = task._get_boto_service_action(service_action_name)
    return next(service.operation_model(name) for name in service.operation_names if botocore.xform_name(name) == action)


@functools.cache
def _service_model(name: str) -> ServiceModel:
    return botocore.session.get_session().get_service_model(name)


def _sfn_normalise_parameters(
    self: StateTaskServiceSfn, parameters: dict[str, Any], boto_service_name: str | None = None, service_action_name: str | None = None
) -> None:
    """The task's arguments as the API takes them (``StateMachineArn`` -> ``stateMachineArn``): moto
    leaves out the renaming that LocalStack's parser, which it vendors, does with botocore's model."""
    _moto_sfn_normalise_parameters(self, parameters, boto_service_name, service_action_name)
    shape = _operation(self, boto_service_name, service_action_name).input_shape
    if shape is not None:
        self._to_boto_request(parameters, shape)


def _sfn_normalise_response(self: StateTaskServiceSfn, response: Any, boto_service_name: str | None = None, service_action_name: str | None = None) -> None:
    """The API's answer as the task's result (``executionArn`` -> ``ExecutionArn``, dates in epoch
    milliseconds), as on AWS."""
    shape = _operation(self, boto_service_name, service_action_name).output_shape
    if shape is not None:
        self._from_boto_response(response, shape)
    if isinstance(response, dict):
        response.update({key: round(value.timestamp() * 1000) for key, value in response.items() if isinstance(value, datetime.datetime)})


def _sync_resolver(moto_build: Callable[..., Callable[[], Any] | None]) -> Callable[..., Callable[[], Any]]:
    """A ``.sync`` task's look at its child that first waits for the child's end (at most
    SYNC_LOOK_SECONDS, so that a stopped parent still notices): AWS learns of a child's end from the
    child; moto describes it every 0.5 s, which would add a quarter of a second on average to
    every line of a batch. moto's pause between two looks is then no longer needed."""

    def build(self: StateTaskServiceSfn, env: Environment, **kwargs: Any) -> Callable[[], Any]:
        execution_arn = env.stack[-1]["ExecutionArn"]  # StartExecution's answer, which moto's resolver takes
        look = moto_build(self, env=env, **kwargs)
        assert look is not None  # moto's Step Functions task builds one for .sync and .sync:2

        def resolve() -> Any:
            wait_until_ended(execution_arn, SYNC_LOOK_SECONDS)
            return look()

        return resolve

    return build


_sfn_sync_resolver, _sfn_sync2_resolver = _sync_resolver(_moto_sfn_sync_resolver), _sync_resolver(_moto_sfn_sync2_resolver)


def _no_pause(seconds: float) -> None:
    """moto's pause between two looks of a ``.sync`` task: each look waits for the child itself."""


@functools.cache
def _client(region: str, service: str, session: int) -> Any:
    return _moto_boto_client_for(region=region, service=service)


def _task_client(region: str, service: str, state_credentials: Any = None) -> Any:
    """The boto3 client a task calls its service with: moto builds a new one for every call (a few
    ms of CPU each, four per line of a batch and more); clients are thread-safe, and moto's ignore
    the credentials. One per region and service, and per default session (the local Lambda
    service answers through the session it registered with)."""
    return _client(region, service, id(boto3.DEFAULT_SESSION))


@functools.lru_cache(maxsize=64)
def _parse(definition: str) -> tuple[Any, Any]:
    """A definition parsed once, not once per execution (some 40 ms of ANTLR in Python each, a
    second for a batch of 40 lines): its components keep no state of their own (a map's items
    already share theirs across threads)."""
    return _moto_parse(definition)


def wait_until_ended(execution_arn: str, timeout: float) -> bool:
    """Block until the execution has ended (its status is final); False on timeout."""
    with _ended_changed:
        return _ended_changed.wait_for(lambda: execution_arn in _ended, timeout)


def bound_hooks() -> dict[str, tuple[object, object]]:
    """Each hook ``bind`` sets: name -> (what moto holds now, what bind set)."""
    return {
        "moto's JSONata evaluator": (moto_jsonata._eval_jsonata, evaluate_jsonata),
        "moto's Retry wait": (retrier_decl.time.sleep, _scaled_sleep),  # type: ignore[attr-defined]
        "moto's end of an execution": (BaseExecutionWorkerCommunication.terminated, _terminated),
        "moto's StartExecution": (StepFunctionsParserBackend.start_execution, _start_execution),
        "moto's ItemReader input types": (InputType.__init__, _input_type_init),
        "moto's ItemReader transformers": (item_reader_decl.resource_output_transformer_for, _transformer_for),  # type: ignore[attr-defined]
        "moto's map run": (DistributedIterationComponent._map_run, _map_run),
        "moto's ResultWriter grammar": (ASLParser.result_writer_field, _result_writer_field),
        "moto's Parallel branch error": (branches_decl.CustomErrorName, _branch_error_name),  # type: ignore[attr-defined]
        "moto's .sync look": (StateTaskServiceSfn._build_sync_resolver, _sfn_sync_resolver),
        "moto's .sync:2 look": (StateTaskServiceSfn._build_sync2_resolver, _sfn_sync2_resolver),
        "moto's .sync pause": (state_task_service_callback.time.sleep, _no_pause),  # type: ignore[attr-defined]
        "moto's ASL parser": (AmazonStateLanguageParser.parse, _parse),
        **{f"moto's {name} client": (module.boto_client_for, _task_client) for name, module in _TASK_CLIENT_MODULES.items()},
        "moto's Step Functions task arguments": (StateTaskServiceSfn._normalise_parameters, _sfn_normalise_parameters),
        "moto's Step Functions task results": (StateTaskServiceSfn._normalise_response, _sfn_normalise_response),
    }


def _scaled_sleep(seconds: float) -> None:
    time.sleep(seconds * _retry_time_scale)


def bind(retry_time_scale: float = 1.0) -> None:
    """Wire JSONata into moto and set how fast Retry intervals pass (1.0 = as written)."""
    global _retry_time_scale
    with _lock:
        # Run executions with moto's ASL interpreter instead of returning a canned history.
        default_user_config["stepfunctions"]["execute_state_machine"] = True
        _retry_time_scale = retry_time_scale
        moto_jsonata._eval_jsonata = evaluate_jsonata
        retrier_decl.time = types.SimpleNamespace(sleep=_scaled_sleep)  # type: ignore[attr-defined, assignment]
        BaseExecutionWorkerCommunication.terminated = _terminated  # type: ignore[method-assign]
        StepFunctionsParserBackend.start_execution = _start_execution  # type: ignore[method-assign]
        InputType.__init__ = _input_type_init  # type: ignore[method-assign]
        item_reader_decl.resource_output_transformer_for = _transformer_for  # type: ignore[attr-defined]
        DistributedIterationComponent._map_run = _map_run  # type: ignore[method-assign]
        ASLParser.result_writer_field = _result_writer_field  # type: ignore[method-assign]
        branches_decl.CustomErrorName = _branch_error_name  # type: ignore[attr-defined, assignment]
        StateTaskServiceSfn._build_sync_resolver = _sfn_sync_resolver  # type: ignore[method-assign]
        StateTaskServiceSfn._build_sync2_resolver = _sfn_sync2_resolver  # type: ignore[method-assign]
        state_task_service_callback.time = types.SimpleNamespace(sleep=_no_pause)  # type: ignore[attr-defined, assignment]
        AmazonStateLanguageParser.parse = staticmethod(_parse)  # type: ignore[method-assign]
        for module in _TASK_CLIENT_MODULES.values():
            module.boto_client_for = _task_client  # type: ignore[attr-defined]
        StateTaskServiceSfn._normalise_parameters = _sfn_normalise_parameters  # type: ignore[method-assign]
        StateTaskServiceSfn._normalise_response = _sfn_normalise_response  # type: ignore[method-assign, assignment]
    # The interpreter logs every state transition at INFO; keep the console readable.
    logging.getLogger("moto.stepfunctions.parser").setLevel(logging.WARNING)
    # It warns that ToleratedFailurePercentage has no effect: bound above, it has.
    logging.getLogger("moto.stepfunctions.parser.asl.parse.preprocessor").setLevel(logging.ERROR)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
