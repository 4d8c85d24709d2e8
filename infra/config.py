"""The stack's configuration: CDK context (``cdk.json`` defaults, ``-c key=value`` overrides)
parsed once into a checked model."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from constructs import Node

from infra.endpoint_code import compile_shape_problems
from infra.instance_types import component_memory_mb
from text2image.batch_workflow import batch_concurrency
from text2image.cors import checked_origins
from text2image.deploy_settings import PREFIX, context_defaults
from text2image.inference_components import component_name
from text2image.manifest import PREPARE
from text2image.paths import REQUEST_SCHEMA
from text2image.throttling import stage_throttle

_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
_WORKFLOW_LOG_LEVELS = ("ALL", "ERROR", "FATAL", "OFF")
# "diffusers": the artifact of `make model-artifact` in the Hugging Face PyTorch inference
# container of the stack's region; "custom": any image + model data named in context.
ENDPOINT_PRESETS = ("diffusers", "custom")
# "cognito": a user pool, and API Gateway's Cognito authorizer on the signed-in routes; "none": an
# open API like the original demo (anyone with the URL makes the GPUs work), only by choice.
AUTH_MODES = ("cognito", "none")
# An e-mail domain as the part after "@": labels of letters, digits and inner hyphens, a dot between.
_DOMAIN = re.compile(r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
# One address for the alarms' subscription: a local part without spaces or a second "@", then a domain as above.
_EMAIL = re.compile(r"[^@\s,;]+@" + _DOMAIN.pattern, re.IGNORECASE)
# An Application Auto Scaling cron expression: cron(minutes hours day-of-month month day-of-week year),
# one of the two days "?" (Application Auto Scaling User Guide, "Scheduled scaling", cron expressions).
_CRON = re.compile(r"cron\((\S+) (\S+) (\S+) (\S+) (\S+) (\S+)\)")
# The idle scale-in's alarm looks at one-minute periods, and a CloudWatch alarm evaluates at most one
# day of them (PutMetricAlarm: EvaluationPeriods x Period <= 86,400 s).
MAX_IDLE_MINUTES = 24 * 60
# An inference component's name is at most 63 characters (CreateInferenceComponent).
_MAX_COMPONENT_NAME = 63
# A Distributed Map runs at most 10,000 child executions at once (its MaxConcurrency's limit).
MAX_BATCH_CONCURRENCY = 10_000


@dataclass(frozen=True)
class StackConfig:
    endpoints: str  # "sd-1,sd-2" or weighted "sd-1:2,sd-2:1", as the Prepare function reads it
    default_num_images: int
    images_per_call: int  # 0: an endpoint's whole share in one call, as far as the limits allow
    max_images_per_call: int  # what one endpoint call may carry: Prepare plans by them, created endpoints enforce them
    max_pixels_per_call: int
    throttle_rate: float  # the stage's: cdk.json's throttleRate/throttleBurst, or sized to the endpoints where 0 (text2image/throttling.py)
    throttle_burst: int
    log_level: str
    workflow_log_level: str
    image_retention_days: int
    api_key: bool
    auth: str  # one of AUTH_MODES
    sign_up_domains: tuple[str, ...]  # e-mail domains that may sign up themselves; () = admin-created users only
    daily_images_per_user: int  # each signed-in user's images per UTC day (Prepare's quota)
    cors_origins: tuple[str, ...]  # origins whose pages may call the API; () = same origin only
    api_logging: bool  # needs the account's API Gateway CloudWatch role (README, Deploy)
    powertools_layer_version: int
    powertools_layer_arn: str  # overrides the public layer chosen by partition and region (infra/powertools.py)
    create_endpoints: bool
    endpoint_preset: str
    endpoint_image_uri: str
    endpoint_image_tag: str
    endpoint_model_data_url: str
    endpoint_model_id: str
    endpoint_scheduler: str
    endpoint_compile: bool
    endpoint_compile_shapes: str  # "WxHxK,...": the calls compiled at start ("" = the default request's)
    endpoint_instance_type: str
    endpoint_instance_count: int
    endpoint_max_instances: int
    endpoint_target_invocations_per_instance: int
    # Created endpoints host the model as an inference component that scales to zero copies and
    # instances after endpoint_idle_minutes without calls (infra/scale_to_zero.py).
    endpoint_scale_to_zero: bool
    endpoint_idle_minutes: int
    endpoint_cold_start_seconds: int  # about how long a cold endpoint takes to serve: Retry-After, /config.json
    warm_schedule_start: str  # cron(...) from which one copy each stays warm ("" = no schedule)
    warm_schedule_end: str  # cron(...) after which they may go cold again
    warm_schedule_timezone: str  # the IANA time zone of both
    alarm_email: str  # the address the alarms' topic mails; "" = no subscription (infra/observability.py)
    max_batch_lines: int  # request lines one batch file may hold (the submit function refuses more)
    batch_concurrency_setting: int  # lines of a batch in flight at once; 0 = sized to the GPUs (batch_concurrency)
    batch_tolerated_failure_percentage: float  # the share of a batch's lines that may fail before the batch stops

    @property
    def signed_in(self) -> bool:
        """Whether the API's signed-in routes take only callers signed in to the stack's user pool."""
        return self.auth == "cognito"

    @property
    def endpoint_names(self) -> list[str]:
        return [endpoint.name for endpoint in parse_endpoints(self.endpoints)]

    @property
    def scales_to_zero(self) -> bool:
        """Whether the endpoints scale to zero: only endpoints the stack creates can (existing ones are called as they are)."""
        return self.create_endpoints and self.endpoint_scale_to_zero

    @property
    def batch_concurrency(self) -> int:
        """The batch map's MaxConcurrency: the setting, or (0) two lines per GPU the endpoints can
        have, endpoints x endpointMaxInstances (text2image/batch_workflow.py)."""
        return batch_concurrency(self.batch_concurrency_setting, len(self.endpoint_names) * self.endpoint_max_instances)

    @property
    def warm_schedule(self) -> bool:
        return bool(self.warm_schedule_start or self.warm_schedule_end)

    @classmethod
    def from_context(cls, node: Node) -> StackConfig:
        defaults = context_defaults()

        def get(key: str) -> Any:
            value = node.try_get_context(PREFIX + key)
            return defaults[key] if value is None else value

        def flag(key: str) -> bool:
            """Context from the command line arrives as text (-c text2image:apiKey=true); a typo
            (``flase``) is refused rather than read as false."""
            value = get(key)
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text not in _TRUE + _FALSE:
                raise ValueError(f"{PREFIX}{key} must be true or false, not {value!r}")
            return text in _TRUE

        def whole(key: str) -> int:
            value = get(key)
            try:
                return int(value)
            except (TypeError, ValueError):
                raise ValueError(f"{PREFIX}{key} must be a whole number, not {value!r}") from None

        throttle = stage_throttle({key: get(key) for key in defaults})
        config = cls(
            endpoints=str(get("endpoints")),
            default_num_images=whole("defaultNumImages"),
            images_per_call=whole("imagesPerCall"),
            max_images_per_call=whole("maxImagesPerCall"),
            max_pixels_per_call=whole("maxPixelsPerCall"),
            throttle_rate=throttle.rate,
            throttle_burst=throttle.burst,
            log_level=str(get("logLevel")).upper(),
            workflow_log_level=str(get("workflowLogLevel")).upper(),
            image_retention_days=whole("imageRetentionDays"),
            api_key=flag("apiKey"),
            auth=str(get("auth")).strip().lower(),
            sign_up_domains=_items(get("signUpDomains")),
            daily_images_per_user=whole("dailyImagesPerUser"),
            cors_origins=_items(get("corsOrigins")),
            api_logging=flag("apiLogging"),
            powertools_layer_version=whole("powertoolsLayerVersion"),
            powertools_layer_arn=str(get("powertoolsLayerArn")),
            create_endpoints=flag("createEndpoints"),
            endpoint_preset=str(get("endpointPreset")),
            endpoint_image_uri=str(get("endpointImageUri")),
            endpoint_image_tag=str(get("endpointImageTag")),
            endpoint_model_data_url=str(get("endpointModelDataUrl")),
            endpoint_model_id=str(get("endpointModelId")),
            endpoint_scheduler=str(get("endpointScheduler")),
            endpoint_compile=flag("endpointCompile"),
            endpoint_compile_shapes=str(get("endpointCompileShapes")),
            endpoint_instance_type=str(get("endpointInstanceType")),
            endpoint_instance_count=whole("endpointInstanceCount"),
            endpoint_max_instances=whole("endpointMaxInstances"),
            endpoint_target_invocations_per_instance=whole("endpointTargetInvocationsPerInstance"),
            endpoint_scale_to_zero=flag("endpointScaleToZero"),
            endpoint_idle_minutes=whole("endpointIdleMinutes"),
            endpoint_cold_start_seconds=whole("endpointColdStartSeconds"),
            warm_schedule_start=str(get("warmScheduleStart")).strip(),
            warm_schedule_end=str(get("warmScheduleEnd")).strip(),
            warm_schedule_timezone=str(get("warmScheduleTimezone")).strip(),
            alarm_email=str(get("alarmEmail")).strip(),
            max_batch_lines=whole("maxBatchLines"),
            batch_concurrency_setting=whole("batchConcurrency"),
            batch_tolerated_failure_percentage=float(get("batchToleratedFailurePercentage")),
        )
        config.check()
        return config

    def check(self) -> None:
        """Refuse a configuration that cannot deploy, at synth time and saying why."""
        problems = []
        try:
            parse_endpoints(self.endpoints)
        except ValueError as exc:
            problems.append(f"endpoints must be SageMaker endpoint names with optional weights, as in 'sd-1:2,sd-2' ({exc})")
        limits = json.loads(REQUEST_SCHEMA.read_text(encoding="utf-8"))["properties"]["num_images"]
        if not limits["minimum"] <= self.default_num_images <= limits["maximum"]:
            problems.append(f"defaultNumImages must be {limits['minimum']}..{limits['maximum']} (request.schema.json's num_images)")
        if self.images_per_call < 0:
            problems.append("imagesPerCall must be 0 (an endpoint's whole share in one call) or a positive number of images")
        if self.max_images_per_call < 1 or self.max_pixels_per_call < 64 * 64:
            problems.append("maxImagesPerCall must be at least 1 and maxPixelsPerCall at least 4096 (one 64x64 image)")
        if self.throttle_rate <= 0 or self.throttle_burst < 1:
            problems.append("throttleRate must be > 0 and throttleBurst >= 1, or 0 for each to follow the endpoints")
        if self.endpoint_max_instances < 1:
            problems.append("endpointMaxInstances must be at least 1 (the stage's throttling is sized to it)")
        if self.log_level not in _LOG_LEVELS:
            problems.append(f"logLevel must be one of {_LOG_LEVELS}")
        if self.workflow_log_level not in _WORKFLOW_LOG_LEVELS:
            problems.append(f"workflowLogLevel must be one of {_WORKFLOW_LOG_LEVELS}")
        if self.image_retention_days < 1:
            problems.append("imageRetentionDays must be at least 1")
        if self.alarm_email and not _EMAIL.fullmatch(self.alarm_email):
            problems.append(f"alarmEmail must be one e-mail address such as ops@example.org (or empty for no subscription), not {self.alarm_email!r}")
        problems += self._access_problems()
        problems += self._batch_problems()
        if self.create_endpoints:
            problems += self._endpoint_problems()
        problems += self._scale_to_zero_problems()
        if problems:
            raise ValueError("text2image configuration: " + "; ".join(problems))

    def _access_problems(self) -> list[str]:
        """Who may call the API: sign-in, self sign-up, the daily quota, other origins."""
        problems = []
        if self.auth not in AUTH_MODES:
            problems.append(f"auth must be one of {AUTH_MODES} ('none' leaves the API open to anyone with its URL)")
        bad_domains = [domain for domain in self.sign_up_domains if not _DOMAIN.fullmatch(domain)]
        if bad_domains:
            problems.append(f"signUpDomains must be e-mail domains such as example.org, comma-separated, in lower case, not {bad_domains}")
        if self.sign_up_domains and not self.signed_in:
            problems.append("signUpDomains lets people sign up to the user pool: it needs auth=cognito")
        if self.daily_images_per_user < 1:
            problems.append("dailyImagesPerUser must be at least 1")
        try:
            checked_origins(self.cors_origins)
        except ValueError as exc:
            problems.append(f"corsOrigins: {exc}")
        return problems

    def _batch_problems(self) -> list[str]:
        """Bulk batches (POST /text2image/batches, the batch workflow's Distributed Map)."""
        problems = []
        if self.max_batch_lines < 1:
            problems.append("maxBatchLines must be at least 1 (the request lines one batch file may hold)")
        if not 0 <= self.batch_concurrency_setting <= MAX_BATCH_CONCURRENCY:
            problems.append(
                f"batchConcurrency must be 0 (two lines per GPU: endpoints x endpointMaxInstances x 2) or 1..{MAX_BATCH_CONCURRENCY} "
                "(a Distributed Map's most child executions at once)"
            )
        if not 0 <= self.batch_tolerated_failure_percentage <= 100:
            problems.append("batchToleratedFailurePercentage must be 0..100 (the share of a batch's lines that may fail before it stops)")
        return problems

    def _endpoint_problems(self) -> list[str]:
        problems = []
        if self.endpoint_preset not in ENDPOINT_PRESETS:
            problems.append(f"endpointPreset must be one of {ENDPOINT_PRESETS}")
        if not self.endpoint_model_data_url.startswith("s3://"):
            problems.append("createEndpoints needs an s3:// endpointModelDataUrl (the model.tar.gz of `make model-artifact` for the diffusers preset)")
        if self.endpoint_preset == "custom" and not self.endpoint_image_uri:
            problems.append("the custom endpoint preset needs endpointImageUri")
        if self.endpoint_preset == "diffusers" and not self.endpoint_image_uri and not self.endpoint_image_tag:
            problems.append("the diffusers endpoint preset needs endpointImageTag (or a full endpointImageUri)")
        if self.endpoint_preset == "diffusers" and self.endpoint_instance_type.startswith(("ml.inf", "ml.trn")):
            problems.append(
                f"{self.endpoint_instance_type} runs Neuron-compiled models in a Neuron container, not this CUDA build: "
                "use a GPU instance (ml.g5, ml.g6, ml.p3...) or the custom preset with a Neuron image and model"
            )
        if not self.endpoint_instance_type.startswith("ml."):
            problems.append(f"endpointInstanceType must be a SageMaker instance type such as ml.g5.xlarge, not {self.endpoint_instance_type!r}")
        if not 1 <= self.endpoint_instance_count <= self.endpoint_max_instances:
            problems.append("endpointInstanceCount must be at least 1 and at most endpointMaxInstances")
        if self.endpoint_target_invocations_per_instance < 1:
            problems.append("endpointTargetInvocationsPerInstance must be at least 1")
        if self.endpoint_compile and self.endpoint_preset != "diffusers":
            problems.append("endpointCompile compiles endpoint/code/inference.py's UNet: it needs the diffusers preset")
        if self.endpoint_compile and self.endpoint_compile_shapes:
            problems += compile_shape_problems(self.endpoint_compile_shapes, self.max_images_per_call, self.max_pixels_per_call)
        return problems

    def _scale_to_zero_problems(self) -> list[str]:
        """Scale to zero, its idle window and cold start, and the optional warm schedule."""
        problems = []
        if not 1 <= self.endpoint_idle_minutes <= MAX_IDLE_MINUTES:
            problems.append(f"endpointIdleMinutes must be 1..{MAX_IDLE_MINUTES} (a CloudWatch alarm looks back at most one day)")
        if not 1 <= self.endpoint_cold_start_seconds <= 3600:
            problems.append("endpointColdStartSeconds must be 1..3600: about how long a cold endpoint takes to serve (instance, image, model)")
        if self.scales_to_zero:
            try:
                component_memory_mb(self.endpoint_instance_type)
            except ValueError as exc:
                problems.append(f"endpointScaleToZero: {exc}")
            too_long = [name for name in self.endpoint_names if len(component_name(name)) > _MAX_COMPONENT_NAME]
            if too_long:
                problems.append(
                    f"endpointScaleToZero names each endpoint's inference component {component_name('<endpoint>')!r}, at most 63 characters: shorten {too_long}"
                )
        if self.warm_schedule:
            problems += self._warm_schedule_problems()
        return problems

    def _warm_schedule_problems(self) -> list[str]:
        problems = []
        if not self.scales_to_zero:
            problems.append(
                "warmScheduleStart/End keep a copy of endpoints that scale to zero warm: they need createEndpoints=true and endpointScaleToZero=true"
            )
        if not (self.warm_schedule_start and self.warm_schedule_end):
            problems.append("warmScheduleStart and warmScheduleEnd go together: set both (or neither)")
        for key, expression in (("warmScheduleStart", self.warm_schedule_start), ("warmScheduleEnd", self.warm_schedule_end)):
            match = _CRON.fullmatch(expression)
            if expression and not (match and "?" in (match.group(3), match.group(5))):
                problems.append(
                    f"{key} must be an Application Auto Scaling cron expression, cron(minutes hours day-of-month month day-of-week year) "
                    f"with '?' for one of the days, such as 'cron(0 8 ? * MON-FRI *)', not {expression!r}"
                )
        try:
            ZoneInfo(self.warm_schedule_timezone)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(f"warmScheduleTimezone must be an IANA time zone such as UTC or Europe/Paris, not {self.warm_schedule_timezone!r}")
        return problems


def _load_planning() -> ModuleType:
    """The Prepare function's planning (its reader of ENDPOINT_NAMES; the calls it makes of a
    request, for the endpoints' compiled shapes), loaded from its Lambda asset
    (functions/prepare/planning.py, which imports nothing of its folder) under a name of its
    own: synth refuses exactly what would fail every cold start, by the same code."""
    path = PREPARE.path / "planning.py"
    spec = importlib.util.spec_from_file_location("text2image_prepare_planning", path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve the module's annotations through sys.modules
    spec.loader.exec_module(module)
    return module


planning = _load_planning()
parse_endpoints: Callable[[str], tuple[Any, ...]] = planning.parse_endpoints


def _items(value: Any) -> tuple[str, ...]:
    """A comma-separated context value (``"a.org, b.org"``) as its items; ``""`` is none."""
    return tuple(item for item in (part.strip() for part in str(value).split(",")) if item)
