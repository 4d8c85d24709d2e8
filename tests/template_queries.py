"""Reading a synthesized CloudFormation template (its ``Resources``), for the infra tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def of_type(resources: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    """Each resource of ``kind`` by logical id: its Properties."""
    return {name: r["Properties"] for name, r in resources.items() if r["Type"] == kind}


def resource_path(resources: dict[str, Any], reference: dict[str, Any]) -> str:
    """The URL path of an AWS::ApiGateway::Resource, from its chain of PathParts."""
    if "Fn::GetAtt" in reference:  # the API's root resource
        return ""
    props = resources[reference["Ref"]]["Properties"]
    return f"{resource_path(resources, props['ParentId'])}/{props['PathPart']}"


def flattened(value: Any, token: Callable[[dict[str, Any]], str]) -> str:
    """A template value as text: Fn::Join flattened, every other token (a Ref, a GetAtt) as
    ``token`` writes it."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(flattened(part, token) for part in parts)
    return token(value)


def _named(token: dict[str, Any]) -> str:
    if "Ref" in token:
        return f"<Ref:{token['Ref']}>"
    logical_id, attribute = token["Fn::GetAtt"]
    return f"<{logical_id}.{attribute}>"


def rendered(value: Any) -> str:
    """A template value as text: Fn::Join flattened, a Ref as <Ref:id>, a GetAtt as <id.attribute>."""
    return flattened(value, _named)
