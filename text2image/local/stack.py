"""The whole local stack in one object: endpoint server, local AWS, gateway."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from text2image.deploy_settings import context_defaults
from text2image.local.aws import LocalAWS, LocalAWSConfig
from text2image.local.capacity import DEFAULT_COLD_START, ScaleToZero, check_retry_fits_idle, fitted_retry_time_scale
from text2image.local.containers import Container, InferenceScriptContainer, PreviewContainer, endpoint_module
from text2image.local.endpoints import SAGEMAKER_INVOCATION_LIMIT, EndpointServer, Fault
from text2image.local.gateway import ApiError, Gateway, GatewayConfig
from text2image.local.lambdas import request_validation
from text2image.model_artifact import check_diffusers_folder


@dataclass(frozen=True)
class StackConfig:
    port: int = 8000
    host: str = "127.0.0.1"
    endpoints: int = 2
    latency: float = 0.0  # seconds per image of the preview model
    call_overhead: float = 0.0  # seconds per endpoint call of the preview model, on top of the images'
    model: str = "preview"  # or diffusers:DIR
    # Images per endpoint call (0: an endpoint's whole share), within what every endpoint takes per
    # call: Prepare plans by these numbers and the endpoints enforce them, as on AWS.
    images_per_call: int = field(default_factory=lambda: int(context_defaults()["imagesPerCall"]))
    max_images_per_call: int = field(default_factory=lambda: int(context_defaults()["maxImagesPerCall"]))
    max_pixels_per_call: int = field(default_factory=lambda: int(context_defaults()["maxPixelsPerCall"]))
    faults: tuple[str, ...] = ()  # NAME=MODE[:COUNT]
    # Multiplies the workflow's Retry intervals. None: as on AWS (1), or, where endpoints scale to
    # zero, so that a job calls a warming endpoint again before its copy goes idle (retry_scale).
    retry_time_scale: float | None = None
    invocation_limit: float = SAGEMAKER_INVOCATION_LIMIT
    gateway: GatewayConfig = field(default_factory=GatewayConfig)
    auth: bool = False  # sign-in as deployed: a user pool in the local AWS, the gateway checks tokens
    scale_to_zero: float | None = None  # seconds without a call before an endpoint has no copy (None: always warm)
    cold_start: float = DEFAULT_COLD_START  # seconds from asking a cold endpoint for a copy to its serving
    # Lines of a batch in flight at once (the batch map's MaxConcurrency); 0: two per endpoint, as
    # the deployed default sizes it per GPU (text2image/batch_workflow.py).
    batch_concurrency: int = 0

    @property
    def endpoint_names(self) -> list[str]:
        return [f"sd-local-{i}" for i in range(1, self.endpoints + 1)]

    @property
    def scales_to_zero(self) -> bool:
        return self.scale_to_zero is not None

    @property
    def retry_scale(self) -> float:
        """The Retry time scale the stack runs with: the one given, or the one its idle window needs."""
        if self.retry_time_scale is not None:
            return self.retry_time_scale
        return 1.0 if self.scale_to_zero is None else fitted_retry_time_scale(self.scale_to_zero)


def edge_validator() -> Any:
    """The deployed API validates the body against the schema before the workflow starts;
    locally the same check runs with the Prepare function's code (one schema, one message)."""
    module = request_validation()

    def validate(request: Any) -> dict[str, Any]:
        try:
            return dict(module.validated_request(request))
        except module.ValidationError as exc:
            raise ApiError(400, **exc.body) from None

    return validate


def container_factory(model: str, latency: float, call_overhead: float = 0.0, limits: Mapping[str, str] = MappingProxyType({})) -> Callable[[str], Container]:
    """``preview`` or ``diffusers:DIR`` -> what makes each endpoint's container; ``limits``: its
    SD_MAX_* settings (what one call may ask of it), given as SageMaker gives them, in its environment."""
    timings = (("--latency", latency), ("--call-overhead", call_overhead))
    for option, value in timings:
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{option} must be 0 or more seconds, not {value:g}")
    kind, _, folder = model.partition(":")
    if kind == "preview" and not folder:
        preview_limits = endpoint_module("jumpstart_contract").Limits.from_env(limits)
        return lambda name: PreviewContainer(latency, call_overhead, limits=preview_limits)
    if kind == "diffusers" and folder:
        for option, value in timings:
            if value:
                raise ValueError(f"{option} applies to the preview model only: a diffusers model takes the time it takes")
        model_dir = check_diffusers_folder(Path(folder).expanduser())
        os.environ.update(limits)  # inference.py reads them once, when first imported (next line)
        try:
            endpoint_module("inference")  # torch + diffusers
        except ImportError as exc:
            raise ValueError(f"--model diffusers needs torch and diffusers ({exc}): run `make torch`") from None
        return lambda name: InferenceScriptContainer(model_dir)
    raise ValueError(f"unknown model {model!r}: use preview or diffusers:DIR (a folder saved by diffusers' save_pretrained)")


def aws_config(config: StackConfig, endpoints_url: str) -> LocalAWSConfig:
    """The local AWS of a stack so configured, whose endpoint server is at ``endpoints_url``."""
    return LocalAWSConfig(
        endpoint_names=config.endpoint_names,
        endpoints_url=endpoints_url,
        retry_time_scale=config.retry_scale,
        invocation_limit=config.invocation_limit,
        images_per_call=config.images_per_call,
        max_images_per_call=config.max_images_per_call,
        max_pixels_per_call=config.max_pixels_per_call,
        auth=config.auth,
        scales_to_zero=config.scales_to_zero,
        cold_start_seconds=config.cold_start,
        batch_concurrency=config.batch_concurrency,
    )


class LocalStack:
    def __init__(self, config: StackConfig) -> None:
        if config.endpoints < 1:
            raise ValueError("at least one endpoint is needed")
        if config.batch_concurrency < 0:
            raise ValueError(f"--batch-concurrency must be 0 (two lines per endpoint) or more, not {config.batch_concurrency}")
        if config.images_per_call < 0:
            raise ValueError(f"--images-per-call must be 0 (an endpoint's whole share in one call) or more, not {config.images_per_call}")
        self.config = config
        faults = [Fault.parse(text) for text in config.faults]
        limits = {"SD_MAX_IMAGES_PER_CALL": str(config.max_images_per_call), "SD_MAX_PIXELS_PER_CALL": str(config.max_pixels_per_call)}
        scale_to_zero = None if config.scale_to_zero is None else ScaleToZero(config.scale_to_zero, config.cold_start)
        if scale_to_zero is not None:
            check_retry_fits_idle(scale_to_zero.idle, config.retry_scale)
        container = container_factory(config.model, config.latency, config.call_overhead, limits)
        self.endpoints = EndpointServer(config.endpoint_names, container, invocation_limit=config.invocation_limit, scale_to_zero=scale_to_zero)
        for name, fault in faults:
            self.endpoints.set_fault(name, fault.mode, fault.remaining)
        self.aws = LocalAWS(aws_config(config, self.endpoints.url))
        self.gateway = Gateway(self.aws, edge_validator(), config.gateway, config.host, config.port, hooks_url=self.endpoints.url)

    def start(self) -> LocalStack:
        self.endpoints.start()
        self.aws.start(public_base_url=self.gateway.url)
        self.gateway.start()
        return self

    def stop(self) -> None:
        self.gateway.stop()
        self.endpoints.stop()
        self.aws.stop()
