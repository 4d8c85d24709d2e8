from __future__ import annotations

from dataclasses import astuple
from pathlib import Path

import pytest
from aws_cdk import App

import planning
from infra.config import StackConfig, parse_endpoints
from text2image.deploy_settings import context_defaults
from text2image.manifest import PREPARE
from text2image.throttling import stage_throttle


def config(**context: object) -> StackConfig:
    return StackConfig.from_context(App(context={f"text2image:{k}": v for k, v in context.items()}).node)


def test_defaults_come_from_cdk_json() -> None:
    defaults = config()
    assert defaults.endpoint_names == ["sd-1", "sd-2"] and defaults.default_num_images == 4
    assert (defaults.throttle_rate, defaults.throttle_burst) == (1, 2)  # sized to 2 endpoints x 2 instances and 4 images
    assert defaults.api_key is False and defaults.create_endpoints is False


def test_sign_in_is_on_by_default_with_the_quota_and_no_other_origin() -> None:
    defaults = config()
    assert (defaults.auth, defaults.signed_in, defaults.sign_up_domains) == ("cognito", True, ())
    assert (defaults.daily_images_per_user, defaults.cors_origins) == (200, ())


def test_lists_arrive_comma_separated_and_auth_none_opens_the_api() -> None:
    chosen = config(auth="none", corsOrigins=" https://a.example.org, http://localhost:5173 ", dailyImagesPerUser="50")
    assert (chosen.signed_in, chosen.cors_origins, chosen.daily_images_per_user) == (False, ("https://a.example.org", "http://localhost:5173"), 50)
    assert config(signUpDomains="example.org,staff.example.co.uk").sign_up_domains == ("example.org", "staff.example.co.uk")


def test_command_line_context_overrides_arrive_as_text() -> None:
    overridden = config(endpoints="a:2,b", apiKey="true", throttleRate="5")
    assert overridden.endpoint_names == ["a", "b"] and overridden.endpoints == "a:2,b"
    assert overridden.api_key is True and overridden.throttle_rate == 5
    assert config(apiKey="False", createEndpoints="0").api_key is False


def test_the_stage_throttles_as_the_formula_sizes_the_configured_fleet() -> None:
    """The stage's defaults follow the endpoints (text2image/throttling.py): 3 endpoints of up to
    3 instances make ~9 images/s, 2-image requests: 4.5 a second, 4 at once (each takes 2 of the 3
    endpoints' instances)."""
    fleet = {"endpoints": "a,b,c", "endpointMaxInstances": 3, "defaultNumImages": 2}
    chosen = config(**fleet)
    assert (chosen.throttle_rate, chosen.throttle_burst) == (4.5, 4) == astuple(stage_throttle(context_defaults() | fleet))


@pytest.mark.parametrize(
    ("context", "complaint"),
    [
        ({"endpoints": ""}, "endpoints must be SageMaker endpoint names.*no endpoint configured"),
        ({"endpoints": "bad name!"}, "endpoints must be SageMaker endpoint names.*not a SageMaker endpoint name.*'bad name!'"),
        ({"endpoints": "sd-1:x"}, "endpoints must be SageMaker endpoint names.*weight must be a positive whole number: 'sd-1:x'"),
        ({"endpoints": "sd-1:0"}, "endpoints must be SageMaker endpoint names.*weight must be a positive whole number: 'sd-1:0'"),
        ({"endpoints": "sd-1,sd-1"}, "endpoints must be SageMaker endpoint names.*endpoint 'sd-1' named twice"),
        ({"defaultNumImages": 17}, "defaultNumImages"),
        ({"throttleRate": -1}, "throttleRate must be > 0 and throttleBurst >= 1, or 0 for each to follow the endpoints"),
        ({"throttleBurst": -2}, "throttleBurst >= 1"),
        ({"endpointMaxInstances": 0}, "endpointMaxInstances must be at least 1 \\(the stage's throttling is sized to it\\)"),
        ({"logLevel": "LOUD"}, "logLevel"),
        ({"workflowLogLevel": "SOME"}, "workflowLogLevel"),
        ({"imageRetentionDays": 0}, "imageRetentionDays"),
        ({"auth": "open"}, r"auth must be one of \('cognito', 'none'\)"),
        ({"auth": ""}, "auth must be one of"),
        ({"signUpDomains": "@example.org"}, r"signUpDomains must be e-mail domains.*'@example.org'"),
        ({"signUpDomains": "example.org,Example.com"}, r"signUpDomains must be.*\['Example.com'\]"),
        ({"signUpDomains": "localhost"}, "signUpDomains must be e-mail domains"),
        ({"signUpDomains": "example.org", "auth": "none"}, "signUpDomains lets people sign up to the user pool: it needs auth=cognito"),
        ({"dailyImagesPerUser": 0}, "dailyImagesPerUser must be at least 1"),
        ({"corsOrigins": "*"}, "corsOrigins: CORS origin '\\*'"),
        ({"corsOrigins": "https://example.org/"}, "corsOrigins: CORS origin 'https://example.org/'"),
        ({"createEndpoints": True}, "createEndpoints needs an s3:// endpointModelDataUrl"),
        ({"createEndpoints": True, "endpointModelDataUrl": "s3://m/model.tar.gz", "endpointPreset": "jumpstart"}, "endpointPreset must be one of"),
        ({"createEndpoints": True, "endpointModelDataUrl": "s3://m/model.tar.gz", "endpointPreset": "custom"}, "custom endpoint preset needs endpointImageUri"),
        ({"createEndpoints": True, "endpointModelDataUrl": "s3://m/model.tar.gz", "endpointInstanceType": "ml.inf2.xlarge"}, "Neuron-compiled"),
        ({"createEndpoints": True, "endpointModelDataUrl": "s3://m/model.tar.gz", "endpointInstanceType": "g5.xlarge"}, "endpointInstanceType must be"),
        ({"createEndpoints": True, "endpointModelDataUrl": "s3://m/model.tar.gz", "endpointInstanceCount": 3}, "endpointInstanceCount"),
        ({"endpointScaleToZero": "flase"}, "text2image:endpointScaleToZero must be true or false, not 'flase'"),
        ({"apiKey": "maybe"}, "text2image:apiKey must be true or false"),
        ({"endpointIdleMinutes": "fifteen"}, "text2image:endpointIdleMinutes must be a whole number, not 'fifteen'"),
    ],
)
def test_bad_configuration_fails_synth_saying_why(context: dict[str, object], complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        config(**context)


SPECS = ["sd-1,sd-2", "sd-1:2,sd-2", " a , b:3 ", "sd-1:x", "sd-1:0", "sd-1,sd-1", "A,a", "bad name!", "x" * 64, "", "sd-1:²", "sd-1:"]


@pytest.mark.parametrize("spec", SPECS)
def test_synth_accepts_exactly_the_endpoint_settings_a_prepare_cold_start_accepts(spec: str) -> None:
    """Prepare's Settings.from_env reads ENDPOINT_NAMES with planning.parse_endpoints: the
    configuration check must agree with it on every spec, and name the same endpoints."""
    try:
        expected = [endpoint.name for endpoint in planning.parse_endpoints(spec)]
    except ValueError:
        with pytest.raises(ValueError, match="endpoints must be"):
            config(endpoints=spec)
    else:
        assert config(endpoints=spec).endpoint_names == expected


def test_the_configuration_check_runs_the_prepare_assets_own_parser() -> None:
    assert Path(parse_endpoints.__code__.co_filename) == PREPARE.path / "planning.py"
