"""Bind moto's Step Functions engine to what it lacks, in one place.

moto 5.2.x runs executions only when ``execute_state_machine`` is configured, and its
ASL interpreter's JSONata evaluator is not wired (the hook is left as ``None``): we set
the one and bind jsonata-python to the other. StartExecution without a name runs an
execution named ``None`` in moto; AWS names it with a UUID, and so does the binding. Its ``Retry`` waits really sleep: the
local stack can scale them down here (``retry_time_scale``) so fault tests stay quick
while the ASL file keeps its production intervals. And the end of an execution is
announced here, so a caller waits for it instead of polling DescribeExecution.

Private to the AWS stand-in: only aws.py imports this module (``LocalAWS.wait`` is the way in
for everyone else; ``aws.engine_hooks`` lets tests/workflow/test_engine_binding.py fail
loudly when moto moves a hook).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import types
import uuid
from collections import OrderedDict
from typing import Any

import jsonata
from moto.core.config import default_user_config
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.jsonata import jsonata as moto_jsonata
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
    # The interpreter logs every state transition at INFO; keep the console readable.
    logging.getLogger("moto.stepfunctions.parser").setLevel(logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
