"""Local AWS: moto (S3 + Step Functions with execution) running the real workflow file
with the real Lambda handlers, all in this process and on loopback.

``LocalAWS`` is the one way into the emulator: its boto3 clients, ``start_execution`` and
``wait``. The binding of moto's engine (engine.py) is private to it."""

from __future__ import annotations

import math
import os
import re
import threading
from dataclasses import dataclass, field
from typing import Any

import boto3
from moto.server import ThreadedMotoServer
from werkzeug.serving import WSGIRequestHandler

from text2image import batch_workflow, inference_components, manifest
from text2image.deploy_settings import context_defaults
from text2image.event_patterns import BATCH_DROP_MAX_BYTES
from text2image.local import engine
from text2image.local.capacity import warming_retry_interval
from text2image.local.cognito import LocalUserPool, create_user_pool
from text2image.local.endpoints import SAGEMAKER_INVOCATION_LIMIT
from text2image.local.events import EventDispatcher
from text2image.local.lambdas import ACCOUNT, PARTITION, REGION, LocalLambdaService, function_arn, function_module, invoke, load_handlers
from text2image.paths import BATCH_STATE_MACHINE, STATE_MACHINE
from text2image.routes import BATCH_MAX_BYTES

BUCKET = "text2image-local"
STATE_MACHINE_NAME = "text2image"
BATCH_STATE_MACHINE_NAME = "text2image-batch"
USAGE_TABLE = "text2image-usage"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/text2image-local"
PUBLIC_BASE_URL_PARAMETER = "/text2image/local/public-base-url"


def definition_substitutions() -> dict[str, str]:
    """The local values of the ``${...}`` placeholders CDK fills in on AWS."""
    return manifest.definition_substitutions({function.name: function_arn(function.name) for function in manifest.LAMBDAS}, PARTITION)


def state_machine_arn(name: str) -> str:
    return f"arn:{PARTITION}:states:{REGION}:{ACCOUNT}:stateMachine:{name}"


def batch_definition_substitutions(config: LocalAWSConfig) -> dict[str, str]:
    """The batch workflow's placeholders as the deployed stack fills them, with the local stack's
    concurrency and a progress interval scaled like the Retry intervals."""
    return batch_workflow.definition_substitutions(
        {function.name: function_arn(function.name) for function in manifest.LAMBDAS},
        PARTITION,
        request_state_machine_arn=state_machine_arn(STATE_MACHINE_NAME),
        concurrency=batch_workflow.batch_concurrency(config.batch_concurrency, len(config.endpoint_names)),
        progress_seconds=batch_workflow.PROGRESS_SECONDS * config.retry_time_scale,
    )


def render_definition(template: str, substitutions: dict[str, str]) -> str:
    """Fill ``${Name}`` placeholders as CloudFormation's DefinitionSubstitutions does;
    an unknown placeholder is an error, never left in place."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in substitutions:
            raise KeyError(f"no substitution for ${{{name}}} in the workflow file")
        return substitutions[name]

    return re.sub(r"\$\{([A-Za-z0-9_]+)\}", fill, template)


@dataclass(frozen=True)
class LocalAWSConfig:
    endpoint_names: list[str]
    endpoints_url: str  # the SageMaker Runtime stand-in (and, for inference components, SageMaker's)
    retry_time_scale: float = 1.0
    invocation_limit: float = SAGEMAKER_INVOCATION_LIMIT  # seconds an endpoint call may take (`up --invocation-limit`)
    images_per_call: int = 0  # 0: an endpoint's whole share in one call, as far as the limits allow
    max_images_per_call: int = field(default_factory=lambda: int(context_defaults()["maxImagesPerCall"]))
    max_pixels_per_call: int = field(default_factory=lambda: int(context_defaults()["maxPixelsPerCall"]))
    daily_images_per_user: int = field(default_factory=lambda: int(context_defaults()["dailyImagesPerUser"]))
    auth: bool = False  # a Cognito user pool, its app client and a user (`text2image up --auth`)
    # The endpoints host inference components that scale to zero (`up --scale-to-zero`): the
    # Lambdas call them by component, and the warm route exists (the gateway reads both fields).
    scales_to_zero: bool = False
    cold_start_seconds: float = 0.0  # how long a cold endpoint takes to serve again (`up --cold-start`)
    # Lines of a batch in flight at once (`up --batch-concurrency`); 0: two per endpoint (batch_workflow.batch_concurrency).
    batch_concurrency: int = 0

    @property
    def endpoint_read_timeout(self) -> float:
        """The client waits a little past the endpoint's own limit, as on AWS (70 s vs 60 s)."""
        return self.invocation_limit + 10

    @property
    def cold_wait_seconds(self) -> float:
        """How long a job waits for cold endpoints: Prepare's one wait, scaled with the workflow's Retry intervals."""
        return float(function_module("prepare").DEFAULT_COLD_WAIT_SECONDS * self.retry_time_scale)

    @property
    def warming_retry_seconds(self) -> float:
        """How often a job calls a warming endpoint: the workflow's Retry interval, scaled."""
        return warming_retry_interval() * self.retry_time_scale


class LocalAWS:
    """One per process: moto's backends and the handlers' cold-start settings are global."""

    def __init__(self, config: LocalAWSConfig, port: int = 0) -> None:
        self.config = config
        # werkzeug writes a response's headers and body separately; without TCP_NODELAY,
        # Nagle + delayed ACK add ~40 ms to many calls (every S3 write of every image).
        WSGIRequestHandler.disable_nagle_algorithm = True
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self.url = ""
        self.bucket = BUCKET
        self.public_base_url = ""
        self.state_machine_arn = ""
        self.batch_state_machine_arn = ""
        self.user_pool: LocalUserPool | None = None

    def start(self, public_base_url: str) -> LocalAWS:
        """``public_base_url``: what image URLs start with (the gateway, as CloudFront on AWS)."""
        self.public_base_url = public_base_url
        engine.bind(retry_time_scale=self.config.retry_time_scale)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        os.environ.update(self.environment())
        self.lambdas = LocalLambdaService(load_handlers())
        self.lambdas.install()
        self.s3 = self.client("s3")
        self.sfn = self.client("stepfunctions")
        self.s3.create_bucket(Bucket=BUCKET)
        make_dynamodb_writes_atomic()
        list_moto_services_once()
        create_usage_table(self.client("dynamodb"))
        if self.config.auth:
            self.user_pool = create_user_pool(self.client("cognito-idp"), REGION)
        # What CDK's StringParameter holds on AWS: the base URL images are served from.
        self.client("ssm").put_parameter(Name=PUBLIC_BASE_URL_PARAMETER, Value=public_base_url, Type="String", Overwrite=True)
        definition = render_definition(STATE_MACHINE.read_text(encoding="utf-8"), definition_substitutions())
        created = self.sfn.create_state_machine(name=STATE_MACHINE_NAME, definition=definition, roleArn=ROLE_ARN, type="EXPRESS")
        self.state_machine_arn = created["stateMachineArn"]
        batch = render_definition(BATCH_STATE_MACHINE.read_text(encoding="utf-8"), batch_definition_substitutions(self.config))
        self.batch_state_machine_arn = self.sfn.create_state_machine(name=BATCH_STATE_MACHINE_NAME, definition=batch, roleArn=ROLE_ARN, type="STANDARD")[
            "stateMachineArn"
        ]
        self._events = EventDispatcher(self.client, self.start_execution, BUCKET, ACCOUNT, self.run_function).start()
        return self

    def stop(self) -> None:
        self._events.stop()
        self._server.stop()

    def environment(self) -> dict[str, str]:
        """The process environment: fake credentials, every AWS call pointed at loopback,
        and the union of the three functions' settings (they run in this process)."""
        return {
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "MOTO_PORT": self.url.rsplit(":", 1)[1],  # where moto's engine sends its own calls
            "AWS_ENDPOINT_URL_S3": self.url,
            "AWS_ENDPOINT_URL_SFN": self.url,
            "AWS_ENDPOINT_URL_SSM": self.url,
            "AWS_ENDPOINT_URL_DYNAMODB": self.url,
            "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": self.config.endpoints_url,
            "AWS_ENDPOINT_URL_SAGEMAKER": self.config.endpoints_url,  # the control plane of the inference components
            "BUCKET_NAME": BUCKET,
            "BATCH_STATE_MACHINE_ARN": state_machine_arn(BATCH_STATE_MACHINE_NAME),  # what the submit function starts
            "ENDPOINT_NAMES": ",".join(self.config.endpoint_names),
            "DEFAULT_NUM_IMAGES": str(context_defaults()["defaultNumImages"]),
            "IMAGES_PER_CALL": str(self.config.images_per_call),
            "MAX_IMAGES_PER_CALL": str(self.config.max_images_per_call),
            "MAX_PIXELS_PER_CALL": str(self.config.max_pixels_per_call),
            "MAX_BATCH_BYTES": str(BATCH_MAX_BYTES),  # as the deployed submit and drop functions get it
            "MAX_DROP_BYTES": str(BATCH_DROP_MAX_BYTES),
            "USAGE_TABLE": USAGE_TABLE,
            "DAILY_IMAGES_PER_USER": str(self.config.daily_images_per_user),
            "ENDPOINT_READ_TIMEOUT": str(self.config.endpoint_read_timeout),
            # Set whether or not the endpoints scale to zero, so that no earlier stack's value is left
            # in this process's environment: "{}" is endpoints without components.
            inference_components.VARIABLE: inference_components.components_variable(self.config.endpoint_names if self.config.scales_to_zero else []),
            # Retry-After is whole seconds: a fractional local cold start is rounded up.
            "COLD_START_SECONDS": str(math.ceil(self.config.cold_start_seconds)),
            "COLD_WAIT_SECONDS": f"{self.config.cold_wait_seconds:g}",
            # What each later call in a lane needs of that wait: one Retry interval, scaled, and this stack's per-call limit.
            "LATER_CALL_SECONDS": f"{self.config.warming_retry_seconds + self.config.invocation_limit:g}",
            "PUBLIC_BASE_URL_PARAMETER": PUBLIC_BASE_URL_PARAMETER,
            "POWERTOOLS_SERVICE_NAME": "text2image",
            "POWERTOOLS_METRICS_NAMESPACE": "text2image",
            "POWERTOOLS_TRACE_DISABLED": "true",
        }

    def client(self, service: str) -> Any:
        return boto3.client(  # type: ignore[call-overload]
            service, endpoint_url=self.url, region_name=REGION, aws_access_key_id="local", aws_secret_access_key="local"
        )

    def start_execution(self, execution_input: str, name: str | None = None, state_machine_arn: str | None = None) -> str:
        """Start the text2image workflow (or another state machine of this local AWS); with no
        name, the execution is named as AWS names it (a UUID, see engine.py)."""
        named = {"name": name} if name is not None else {}
        started = self.sfn.start_execution(stateMachineArn=state_machine_arn or self.state_machine_arn, input=execution_input, **named)
        return str(started["executionArn"])

    def run_function(self, name: str, event: Any) -> bool:
        """Invoke one of the functions with ``event``, as an EventBridge rule's Lambda target does;
        False if it failed (its error is in the log)."""
        _, headers, _ = invoke(self.lambdas.handlers[name], name, event)
        return "X-Amz-Function-Error" not in headers

    def wait(self, execution_arn: str, timeout: float) -> bool:
        """Block until the execution has ended (its status is final: DescribeExecution then
        tells how); False if it is still running after ``timeout`` seconds or never started.
        The engine announces each end, so this wakes at once instead of polling."""
        return engine.wait_until_ended(execution_arn, timeout)


_ATOMIC_WRITES = threading.Lock()


def make_dynamodb_writes_atomic() -> None:
    """DynamoDB applies each write, its condition included, atomically: two conditional updates
    of one item never both see its old value. moto's server runs requests on threads with no
    such guarantee (two racing quota reservations were both let through on Python 3.13), so the
    local stand-in serialises its item writes, as the service behaves. Idempotent."""
    from moto.dynamodb.models import DynamoDBBackend

    for name in ("put_item", "update_item", "delete_item", "transact_write_items"):
        method = getattr(DynamoDBBackend, name)
        if getattr(method, "_text2image_atomic", False):
            continue

        def atomic(self: Any, *args: Any, _method: Any = method, **kwargs: Any) -> Any:
            with _ATOMIC_WRITES:
                return _method(self, *args, **kwargs)

        atomic._text2image_atomic = True  # type: ignore[attr-defined]
        setattr(DynamoDBBackend, name, atomic)


def list_moto_services_once() -> None:
    """moto's server finds the service of each request under one lock, listing moto's package folder
    (a stat of each of some 190 entries) on every request: a tenth of the CPU of a batch of jobs.
    The folder does not change while the process runs, so it is listed once. Idempotent."""
    from moto import backends

    if getattr(backends.list_of_moto_modules, "_text2image_once", False):
        return
    listed = tuple(backends.list_of_moto_modules())

    def list_of_moto_modules() -> tuple[str, ...]:
        return listed

    list_of_moto_modules._text2image_once = True  # type: ignore[attr-defined]
    backends.list_of_moto_modules = list_of_moto_modules


def create_usage_table(dynamodb: Any) -> None:
    """The signed-in users' quotas and run history, keyed as the deployed table (infra/functions.py):
    partition key ``pk``, sort key ``sk``, on demand."""
    dynamodb.create_table(
        TableName=USAGE_TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def engine_hooks() -> dict[str, tuple[object, object]]:
    """Test-only (tests/workflow/test_engine_binding.py): each moto hook the engine binding
    sets, as name -> (what moto holds now, what the binding set), so a moto upgrade that
    moves one fails a test by name instead of a run somewhere."""
    return engine.bound_hooks()


__all__ = [
    "BUCKET",
    "LocalAWS",
    "LocalAWSConfig",
    "batch_definition_substitutions",
    "definition_substitutions",
    "engine_hooks",
    "render_definition",
    "state_machine_arn",
]
