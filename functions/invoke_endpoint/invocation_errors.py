"""The errors InvokeEndpoint raises, by the names the workflow's Retry and Catch match on, and
which of them a failed SageMaker call is. Pure: no client, no I/O."""

from __future__ import annotations

from botocore.exceptions import ClientError, ReadTimeoutError
from botocore.exceptions import ConnectionError as BotoConnectionError

from model_answer import model_error_message

BUSY_CODES = frozenset({"ThrottlingException", "ModelNotReadyException", "ServiceUnavailable", "InternalFailure", "InternalDependencyException"})
# How SageMaker refuses a call to an inference component with no copy (an endpoint scaled to zero):
# a 400 ValidationError whose message begins so. The refused call is what starts the scale-out
# (the NoCapacityInvocationFailures alarm), so it is a state to wait out, not a bad request.
NO_CAPACITY_MESSAGE = "Inference Component has no capacity"


class EndpointBusy(Exception):
    """Transient: the workflow retries with backoff and jitter."""


class ModelError(Exception):
    """The model container failed on this request (SageMaker 424)."""


class EndpointRejected(Exception):
    """SageMaker refused the call (400 ValidationError: unknown endpoint, bad parameters)."""


class EndpointTimeout(Exception):
    """No answer within the read timeout."""


class EndpointWarming(Exception):
    """The endpoint is cold and this run may still wait for it: the workflow retries on a slow schedule."""


class EndpointCold(Exception):
    """The endpoint is cold and this run waits no longer (a sync run at once, a job past its deadline)."""


class ImageWriteFailed(Exception):
    """The image was made but could not be stored."""


CallFailure = ClientError | ReadTimeoutError | BotoConnectionError


def endpoint_failure(exc: CallFailure, read_timeout: float, may_wait: bool) -> Exception:
    """The named error for a SageMaker call that failed with ``exc``; ``may_wait``: whether the run
    still waits for a cold endpoint (before its capacity deadline)."""
    if isinstance(exc, ClientError):
        code, message = exc.response["Error"].get("Code", ""), exc.response["Error"].get("Message", "")
        if code == "ValidationError" and message.startswith(NO_CAPACITY_MESSAGE):
            return EndpointWarming(message) if may_wait else EndpointCold(message)
        if code in BUSY_CODES:
            return EndpointBusy(f"{code}: {message}")
        if code == "ModelError":
            return ModelError(model_error_message(exc.response))
        return EndpointRejected(f"{code}: {message}")
    if isinstance(exc, ReadTimeoutError):
        return EndpointTimeout(f"no answer within {read_timeout:g} s")
    return EndpointBusy(f"connection failed: {exc}")
