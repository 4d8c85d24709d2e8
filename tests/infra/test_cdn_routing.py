"""Where CloudFront sends each path, computed from the synthesized distribution with
CloudFront's own rules (behaviours in the distribution's order, ``*`` and ``?``, case-sensitive,
the default last), and what a redeploy invalidates."""

from __future__ import annotations

from typing import Any

import pytest

from infra.api import declared_routes
from text2image.discovery import CONFIG_FILE
from text2image.paths import WEB
from text2image.routes import BEHAVIORS, DEFAULT_BEHAVIOR, Origin, select
from text2image.site import GENERATED

REQUEST_ID = "0b6f4c1e-7d1a-4a52-9d51-3c7e5f0a2b19-n4"
WEB_FILES = sorted(path.relative_to(WEB).as_posix() for path in WEB.rglob("*") if path.is_file())
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"


def distribution(resources: dict[str, Any]) -> dict[str, Any]:
    (config,) = [r["Properties"]["DistributionConfig"] for r in resources.values() if r["Type"] == "AWS::CloudFront::Distribution"]
    return dict(config)


def origin_kinds(config: dict[str, Any]) -> dict[str, Origin]:
    """Each origin's id -> what it is, read from the origin itself: the REST API's domain, the
    bucket under site/, the bucket's root."""
    kinds = {}
    for origin in config["Origins"]:
        if "CustomOriginConfig" in origin:
            assert origin["DomainName"]["Fn::Join"][1][0]["Ref"].startswith("ApiRestApi")
            kinds[origin["Id"]] = Origin.API
        else:
            assert "S3OriginConfig" in origin
            kinds[origin["Id"]] = Origin.SITE if origin.get("OriginPath") == "/site" else Origin.OBJECTS
    return kinds


def reached(config: dict[str, Any], path: str) -> Origin:
    kinds = origin_kinds(config)
    ordered = [(b["PathPattern"], kinds[b["TargetOriginId"]]) for b in config.get("CacheBehaviors", [])]
    return select(path, ordered, kinds[config["DefaultCacheBehavior"]["TargetOriginId"]])


@pytest.mark.parametrize(
    ("path", "origin"),
    [
        *((f"/{name}", Origin.SITE) for name in [*WEB_FILES, *GENERATED, CONFIG_FILE]),
        ("/", Origin.SITE),
        (f"/images/{REQUEST_ID}/0.jpeg", Origin.OBJECTS),
        (f"/images/{REQUEST_ID}/11.jpeg", Origin.OBJECTS),
        (f"/requests/{REQUEST_ID}.json", Origin.OBJECTS),
        ("/text2image", Origin.API),
        ("/text2image/jobs", Origin.API),
        ("/text2image/anything/else", Origin.API),  # the API answers it as an undeclared route
        ("/Text2Image", Origin.SITE),  # case-sensitive: a missing site file, not the API
        ("/prompts/x.json", Origin.SITE),  # the drop folder is never served
    ],
)
def test_each_path_reaches_its_origin(resources: dict[str, Any], path: str, origin: Origin) -> None:
    assert reached(distribution(resources), path) is origin


def test_the_distribution_is_the_declaration(resources: dict[str, Any]) -> None:
    """The behaviours in order, each with its origin, methods and caching, as text2image/routes.py
    declares them (the local gateway routes by that declaration)."""
    config = distribution(resources)
    kinds = origin_kinds(config)

    def as_declared(behavior: dict[str, Any]) -> tuple[str, Origin, frozenset[str], bool]:
        cached = behavior["CachePolicyId"] != CACHING_DISABLED
        return behavior.get("PathPattern", "*"), kinds[behavior["TargetOriginId"]], frozenset(behavior["AllowedMethods"]), cached

    declared = [(b.path_pattern, b.origin, b.methods, b.cached) for b in (*BEHAVIORS, DEFAULT_BEHAVIOR)]
    assert [as_declared(b) for b in [*config["CacheBehaviors"], config["DefaultCacheBehavior"]]] == declared


def test_the_rest_api_declares_the_routes_the_local_gateway_serves(resources: dict[str, Any]) -> None:
    api_resources = {name: r["Properties"] for name, r in resources.items() if r["Type"] == "AWS::ApiGateway::Resource"}

    def path_of(resource_id: Any) -> str:
        if "Ref" not in resource_id:  # the REST API's root resource
            return ""
        resource = api_resources[resource_id["Ref"]]
        return f"{path_of(resource['ParentId'])}/{resource['PathPart']}"

    methods = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::ApiGateway::Method"]
    # The default stack: sign-in, existing endpoints (nothing to warm).
    assert sorted((m["HttpMethod"], path_of(m["ResourceId"])) for m in methods) == sorted(declared_routes(signed_in=True, scales_to_zero=False))


def test_a_redeploy_invalidates_every_site_file_and_no_image(resources: dict[str, Any]) -> None:
    """Each uploaded file by its own path (a handful; CloudFront bills per path), plus "/"
    (cached under its own path). A wildcard over the site would also reach the images."""
    (deployment,) = [r["Properties"] for r in resources.values() if r["Type"] == "Custom::CDKBucketDeployment"]
    paths = deployment["DistributionPaths"]
    assert len(paths) == len(set(paths))
    assert set(paths) == {"/", *(f"/{name}" for name in [*WEB_FILES, *GENERATED, CONFIG_FILE])}
    assert not any("*" in path for path in paths)
