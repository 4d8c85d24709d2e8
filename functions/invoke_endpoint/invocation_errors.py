"""The errors InvokeEndpoint raises, by the names the workflow's Retry and Catch match on, and
which of them a failed SageMaker call is. Pure: no client, no I/O."""

from __future__ import annotations

from botocore.exceptions import ClientError, ReadTimeoutError
from botocore.exceptions import ConnectionError as BotoConnectionError

from model_answer import model_error_message

BUSY_CODES = frozenset({"ThrottlingException", "ModelNotReadyException", "ServiceUnavailable", "InternalFailure", "InternalDependencyException"})


class EndpointBusy(Exception):
    """Transient: the workflow retries with backoff and jitter."""


class ModelError(Exception):
    """The model container failed on this request (SageMaker 424)."""


class EndpointRejected(Exception):
    """SageMaker refused the call (400 ValidationError: unknown endpoint, bad parameters)."""


class EndpointTimeout(Exception):
    """No answer within the read timeout."""


class ImageWriteFailed(Exception):
    """The image was made but could not be stored."""


CallFailure = ClientError | ReadTimeoutError | BotoConnectionError


def endpoint_failure(exc: CallFailure, read_timeout: float) -> Exception:
    """The named error for a SageMaker call that failed with ``exc``."""
    if isinstance(exc, ClientError):
        code, message = exc.response["Error"].get("Code", ""), exc.response["Error"].get("Message", "")
        if code in BUSY_CODES:
            return EndpointBusy(f"{code}: {message}")
        if code == "ModelError":
            return ModelError(model_error_message(exc.response))
        return EndpointRejected(f"{code}: {message}")
    if isinstance(exc, ReadTimeoutError):
        return EndpointTimeout(f"no answer within {read_timeout:g} s")
    return EndpointBusy(f"connection failed: {exc}")
