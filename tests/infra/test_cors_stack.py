"""Pages on other origins (text2image:corsOrigins) on the synthesized stacks: the API answers the
preflight itself, and CloudFront adds the CORS headers of the listed origins to every answer of
the API's behaviours, errors included; nothing of it without corsOrigins."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Template
from template_queries import of_type, resource_path

from text2image.cors import cors_headers
from text2image.routes import API_ROUTES, BEHAVIORS, PREFLIGHT_STATUS, Origin

ORIGINS = ["https://pages.example.org", "http://localhost:5173"]  # tests/conftest.py's corsOrigins
SECURITY_HEADERS = "67f7725c-6f97-4210-82d7-5512b31e9d03"  # CloudFront's managed SecurityHeadersPolicy
API_PATTERNS = [b.path_pattern for b in BEHAVIORS if b.origin is Origin.API]
CORS_PATTERNS = [*API_PATTERNS, "/config.json"]  # where a page on another origin learns where to sign in


def behaviors(resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    (distribution,) = of_type(resources, "AWS::CloudFront::Distribution").values()
    config = distribution["DistributionConfig"]
    return {**{b["PathPattern"]: b for b in config["CacheBehaviors"]}, "*": config["DefaultCacheBehavior"]}


def preflights(resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = of_type(resources, "AWS::ApiGateway::Method").values()
    return {resource_path(resources, m["ResourceId"]): m for m in found if m["HttpMethod"] == "OPTIONS"}


def test_the_api_behaviours_add_the_cors_headers_of_the_listed_origins(created_template: Template) -> None:
    resources = created_template.to_json()["Resources"]
    ((name, policy),) = of_type(resources, "AWS::CloudFront::ResponseHeadersPolicy").items()
    found = behaviors(resources)
    for pattern, behavior in found.items():
        expected = {"Ref": name} if pattern in CORS_PATTERNS else SECURITY_HEADERS
        assert behavior["ResponseHeadersPolicyId"] == expected, pattern
    for pattern in API_PATTERNS:  # CloudFront lets OPTIONS through to the API
        assert "OPTIONS" in found[pattern]["AllowedMethods"], pattern
    cors = policy["ResponseHeadersPolicyConfig"]["CorsConfig"]
    assert cors["AccessControlAllowOrigins"]["Items"] == ORIGINS
    assert (cors["AccessControlAllowCredentials"], cors["OriginOverride"]) == (False, True)
    # What CloudFront sends a listed origin is what the local gateway sends (text2image/cors.py).
    local = cors_headers(ORIGINS[0], ORIGINS)
    assert ", ".join(cors["AccessControlAllowMethods"]["Items"]) == local["Access-Control-Allow-Methods"]
    assert ", ".join(cors["AccessControlAllowHeaders"]["Items"]) == local["Access-Control-Allow-Headers"]
    assert str(cors["AccessControlMaxAgeSec"]) == local["Access-Control-Max-Age"]
    assert ", ".join(cors["AccessControlExposeHeaders"]["Items"]) == local["Access-Control-Expose-Headers"]


def test_the_api_behaviours_keep_the_security_headers_of_the_others(created_template: Template) -> None:
    """One response headers policy per behaviour: the CORS one repeats the managed
    SecurityHeadersPolicy's headers (CloudFront developer guide, "Use managed response headers
    policies"), never overriding what the origin sent."""
    (policy,) = of_type(created_template.to_json()["Resources"], "AWS::CloudFront::ResponseHeadersPolicy").values()
    assert policy["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"] == {
        "ContentTypeOptions": {"Override": False},
        "FrameOptions": {"FrameOption": "SAMEORIGIN", "Override": False},
        "ReferrerPolicy": {"ReferrerPolicy": "strict-origin-when-cross-origin", "Override": False},
        "StrictTransportSecurity": {"AccessControlMaxAgeSec": 31536000, "Override": False},
        "XSSProtection": {"Protection": True, "ModeBlock": True, "Override": False},
    }


def test_every_api_path_answers_a_preflight_itself_without_credentials(created_template: Template) -> None:
    resources = created_template.to_json()["Resources"]
    answered = preflights(resources)
    assert set(answered) == {path for _, path in API_ROUTES}
    for path, method in answered.items():
        integration = method["Integration"]
        assert integration["Type"] == "MOCK" and integration["RequestTemplates"] == {"application/json": f'{{"statusCode": {PREFLIGHT_STATUS}}}'}, path
        assert [r["StatusCode"] for r in integration["IntegrationResponses"]] == [str(PREFLIGHT_STATUS)], path
        assert [r["StatusCode"] for r in method["MethodResponses"]] == [str(PREFLIGHT_STATUS)], path
        # A browser's preflight carries no token and no API key (this stack requires a key on its routes).
        assert method["AuthorizationType"] == "NONE" and not method.get("ApiKeyRequired", False), path


def test_without_cors_origins_same_origin_only(resources: dict[str, Any]) -> None:
    assert not preflights(resources)
    assert not of_type(resources, "AWS::CloudFront::ResponseHeadersPolicy")
    assert {b["ResponseHeadersPolicyId"] for b in behaviors(resources).values()} == {SECURITY_HEADERS}
