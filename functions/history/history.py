"""History Lambda: ``GET /text2image/history`` for the signed-in caller ("My runs").

API Gateway's Cognito authorizer has checked the ID token (the local gateway checks it the same
way); this function reads the caller's ``sub`` from the authorizer's claims and answers one page
of their runs, newest first: ``{"runs": [...], "next": cursor | null}``
(:mod:`run_page`). ``limit`` (1..50, default 20) and ``cursor`` (the previous page's ``next``) are
the query parameters; a bad one is a 400 ValidationError naming it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from boto3.dynamodb.types import TypeDeserializer

from run_page import RUN_PREFIX, BadQuery, Page, decode_cursor, page_of, parse_limit, user_key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

ROUTE = "/text2image/history"
DESERIALIZER = TypeDeserializer()


@dataclass(frozen=True)
class Settings:
    usage_table: str

    @classmethod
    def from_env(cls) -> Settings:
        return cls(usage_table=os.environ["USAGE_TABLE"])


@cache
def get_settings() -> Settings:
    """Parsed once per container, on first use: importing the module needs no environment."""
    return Settings.from_env()


@cache
def dynamodb_client() -> DynamoDBClient:
    return boto3.client("dynamodb")


logger = Logger()
tracer = Tracer()
app = APIGatewayRestResolver()


@tracer.capture_method
def query_runs(sub: str, limit: int, after: str | None) -> Page:
    partition = user_key(sub)
    start = {"ExclusiveStartKey": {"pk": {"S": partition}, "sk": {"S": after}}} if after else {}
    answer = dynamodb_client().query(
        TableName=get_settings().usage_table,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :runs)",
        ExpressionAttributeValues={":pk": {"S": partition}, ":runs": {"S": RUN_PREFIX}},
        ScanIndexForward=False,  # newest first: the sort key starts with the start time
        Limit=limit,
        **start,  # type: ignore[arg-type]
    )
    items = [{name: DESERIALIZER.deserialize(value) for name, value in item.items()} for item in answer["Items"]]
    last = answer.get("LastEvaluatedKey")
    return page_of(items, {"sk": last["sk"]["S"]} if last else None)


@app.get(ROUTE)
def history() -> Response[Any]:
    claims = app.current_event.request_context.authorizer.claims or {}
    sub = claims.get("sub")
    if not sub:  # the authorizer lets no such call through; say so rather than read anyone's runs
        return error(401, "Unauthorized", "sign in first: send your ID token in the Authorization header")
    query = app.current_event.query_string_parameters or {}
    try:
        limit, after = parse_limit(query.get("limit")), decode_cursor(query.get("cursor"))
    except BadQuery as exc:
        return error(400, "ValidationError", str(exc), field=exc.field)
    page = query_runs(sub, limit, after)
    logger.info("history page", extra={"runs": len(page["runs"]), "more": page["next"] is not None})
    return Response(200, content_types.APPLICATION_JSON, page, headers={"Cache-Control": "no-store"})


def error(status: int, name: str, message: str, **extra: str) -> Response[Any]:
    """The API's error shape (docs/design.md, "Errors")."""
    return Response(status, content_types.APPLICATION_JSON, {"error": name, "message": message, **extra})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
