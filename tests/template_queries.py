"""Reading a synthesized CloudFormation template (its ``Resources``), for the infra tests."""

from __future__ import annotations

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
