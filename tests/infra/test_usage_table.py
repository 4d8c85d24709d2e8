"""The usage table of the deployed stack (quota days and run history of signed-in users): its
keys and expiry as the functions use them, who may do what to it, and no table without sign-in."""

from __future__ import annotations

from typing import Any

from template_queries import of_type

from text2image.deploy_settings import context_defaults


def function_named(resources: dict[str, Any], handler: str) -> dict[str, Any]:
    (found,) = [p for p in of_type(resources, "AWS::Lambda::Function").values() if p.get("Handler") == handler]
    return found


def role_actions(resources: dict[str, Any], function: dict[str, Any]) -> set[str]:
    """Every action the function's role is allowed by its inline policies."""
    role = function["Role"]["Fn::GetAtt"][0]
    actions: set[str] = set()
    for policy in of_type(resources, "AWS::IAM::Policy").values():
        if {"Ref": role} in policy["Roles"]:
            for statement in policy["PolicyDocument"]["Statement"]:
                listed = statement["Action"]
                actions |= {listed} if isinstance(listed, str) else set(listed)
    return actions


def test_one_table_keyed_as_the_functions_key_it_expiring_by_expires_at(resources: dict[str, Any]) -> None:
    (table,) = of_type(resources, "AWS::DynamoDB::Table").values()
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True


def test_prepare_reserves_and_collect_records_with_the_table_and_settings_they_read(resources: dict[str, Any]) -> None:
    (table_id,) = of_type(resources, "AWS::DynamoDB::Table")
    prepare, collect = function_named(resources, "prepare.handler"), function_named(resources, "collect.handler")
    assert prepare["Environment"]["Variables"]["USAGE_TABLE"] == {"Ref": table_id}
    assert prepare["Environment"]["Variables"]["DAILY_IMAGES_PER_USER"] == str(context_defaults()["dailyImagesPerUser"])
    assert collect["Environment"]["Variables"]["USAGE_TABLE"] == {"Ref": table_id}
    assert collect["Environment"]["Variables"]["HISTORY_DAYS"] == str(context_defaults()["imageRetentionDays"])
    assert {a for a in role_actions(resources, prepare) if a.startswith("dynamodb:")} == {"dynamodb:UpdateItem"}
    assert {a for a in role_actions(resources, collect) if a.startswith("dynamodb:")} == {"dynamodb:PutItem", "dynamodb:UpdateItem"}
    invoke = function_named(resources, "invoke_endpoint.handler")
    assert not {a for a in role_actions(resources, invoke) if a.startswith("dynamodb:")}


def test_the_history_function_only_queries_the_table(resources: dict[str, Any]) -> None:
    (table_id,) = of_type(resources, "AWS::DynamoDB::Table")
    history = function_named(resources, "history.handler")
    assert history["Environment"]["Variables"]["USAGE_TABLE"] == {"Ref": table_id}
    assert {a for a in role_actions(resources, history) if a.startswith(("dynamodb:", "s3:"))} == {"dynamodb:Query"}


def test_an_open_stack_has_no_table_no_quota_and_no_history(open_resources: dict[str, Any]) -> None:
    assert of_type(open_resources, "AWS::DynamoDB::Table") == {}
    assert not [p for p in of_type(open_resources, "AWS::Lambda::Function").values() if p.get("Handler") == "history.handler"]
    for handler in ("prepare.handler", "collect.handler"):
        assert "USAGE_TABLE" not in function_named(open_resources, handler)["Environment"]["Variables"]
