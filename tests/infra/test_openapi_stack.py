"""The OpenAPI document (text2image/openapi.py) against the synthesized API: every status a
route's method can answer is documented for it, and every answer API Gateway writes itself (its
gateway responses) is documented, body and headers, on both routes. The local gateway's answers
are held to the document by schemathesis (tests/e2e/test_api_fuzz.py), and the mapping templates'
to the local gateway's by tests/infra/test_vtl.py."""

from __future__ import annotations

import json
from typing import Any

import pytest
from infra_synth import Synth
from openapi_schema_validator import OAS30Validator
from template_queries import of_type, resource_path

from infra.api import declared_routes
from text2image.openapi import document, document_bytes
from text2image.routes import API_ROUTES, UNDECLARED_ROUTE_STATUS

DOCUMENT = document()


def documented(method: str, path: str) -> dict[str, Any]:
    answers: dict[str, Any] = DOCUMENT["paths"][path][method.lower()]["responses"]
    return answers


def body_validator(answer: dict[str, Any]) -> OAS30Validator:
    """A validator of the answer's JSON body, its references resolved within the document."""
    return OAS30Validator({**answer["content"]["application/json"]["schema"], "components": DOCUMENT["components"]})


def deployed_methods(resources: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """The API's methods but CORS preflights (OPTIONS, with text2image:corsOrigins: a browser's
    business, not the API's, tests/infra/test_cors.py)."""
    methods = [m for m in of_type(resources, "AWS::ApiGateway::Method").values() if m["HttpMethod"] != "OPTIONS"]
    return {(m["HttpMethod"], resource_path(resources, m["ResourceId"])): m for m in methods}


def test_the_document_describes_the_routes_the_api_declares(request: pytest.FixtureRequest, stack_resources: dict[str, Any]) -> None:
    """Both stacks have sign-in; only the one that creates its endpoints scales them to zero (warm).
    The document describes every route any stack can have, each saying where it exists."""
    scales_to_zero = request.node.callspec.params["stack_resources"] == "created"
    assert set(deployed_methods(stack_resources)) == set(declared_routes(signed_in=True, scales_to_zero=scales_to_zero))
    assert {(method.upper(), path) for path, item in DOCUMENT["paths"].items() for method in item} == set(API_ROUTES)


def test_every_status_a_method_answers_is_documented_for_its_route(stack_resources: dict[str, Any]) -> None:
    for (method, path), props in deployed_methods(stack_resources).items():
        statuses = {response["StatusCode"] for response in props.get("MethodResponses", [])}  # none: a Lambda proxy answers its own
        assert statuses <= set(documented(method, path)), (method, path)


def gateway_responses(resources: dict[str, Any]) -> list[dict[str, Any]]:
    """The gateway responses with a status of their own. The undeclared route's is no answer of
    a documented route; DEFAULT_4XX and DEFAULT_5XX stand for whatever else API Gateway refuses
    (a missing API key when one is required, a body over 10 MB...) and keep its status."""
    found = of_type(resources, "AWS::ApiGateway::GatewayResponse").values()
    return [props for props in found if "StatusCode" in props and props["StatusCode"] != str(UNDECLARED_ROUTE_STATUS)]


@pytest.mark.parametrize("route", API_ROUTES, ids=lambda route: " ".join(route))
def test_every_answer_api_gateway_writes_itself_is_documented(stack_resources: dict[str, Any], route: tuple[str, str]) -> None:
    answers = documented(*route)
    responses = gateway_responses(stack_resources)
    assert {props["ResponseType"] for props in responses} >= {"BAD_REQUEST_BODY", "UNSUPPORTED_MEDIA_TYPE", "THROTTLED", "INTEGRATION_TIMEOUT"}
    for props in responses:
        answer = answers[props["StatusCode"]]
        body = json.loads(props["ResponseTemplates"]["application/json"])
        assert not list(body_validator(answer).iter_errors(body)), (props["ResponseType"], body)
        sent = {key.removeprefix("gatewayresponse.header.") for key in props.get("ResponseParameters", {})}
        assert {name for name, header in answer.get("headers", {}).items() if header["required"]} <= sent, props["ResponseType"]


def test_the_site_deployment_uploads_the_document(synth: Synth, resources: dict[str, Any]) -> None:
    """On AWS the document is a site file: CloudFront's default behaviour serves /openapi.json
    from the bucket's site/ prefix, where the BucketDeployment puts the synthesized asset."""
    (deployment,) = of_type(resources, "Custom::CDKBucketDeployment").values()
    staged = [synth.outdir / f"asset.{key.removesuffix('.zip')}" / "openapi.json" for key in deployment["SourceObjectKeys"]]
    assert [path.read_bytes() for path in staged if path.is_file()] == [document_bytes()]
