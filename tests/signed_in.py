"""`text2image up --auth` in its own process, for the page's and the CLI's sign-in tests: the
banner's user, the local AWS URL (moto's Cognito and DynamoDB) and more users made as an
administrator would make them."""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
from support import UNTHROTTLED, http

from text2image.local.aws import USAGE_TABLE
from text2image.local.process import LocalStackProcess

STATE_MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:text2image"


@dataclass
class SignedInStack:
    process: LocalStackProcess
    url: str
    aws_url: str
    pool_id: str
    client_id: str
    username: str
    password: str

    @classmethod
    def start(cls, *args: str) -> SignedInStack:
        process = LocalStackProcess("--auth", "--retry-time-scale", "0.01", *UNTHROTTLED, *args)
        sign_in = re.search(r"sign-in\s+user (\S+), password (\S+)\s+\(user pool (\S+), client (\w+);", process.banner)
        aws = re.search(r"local AWS\s+(http://\S+)", process.banner)
        assert sign_in and aws, process.banner
        username, password, pool_id, client_id = sign_in.groups()
        return cls(process, process.url, aws.group(1), pool_id, client_id, username, password)

    def client(self, service: str) -> Any:
        return boto3.client(  # type: ignore[call-overload]
            service, endpoint_url=self.aws_url, region_name="us-east-1", aws_access_key_id="local", aws_secret_access_key="local"
        )

    def add_user(self, temporary: bool = False) -> tuple[str, str]:
        """A new user (name, password) as `aws cognito-idp admin-create-user` makes one: with a
        temporary password (the first sign-in must choose another: NEW_PASSWORD_REQUIRED), or
        with a permanent one set by the administrator."""
        cognito = self.client("cognito-idp")
        username, password = f"user-{secrets.token_hex(4)}", f"{secrets.token_urlsafe(12)}-Aa1"
        cognito.admin_create_user(UserPoolId=self.pool_id, Username=username, TemporaryPassword=password, MessageAction="SUPPRESS")
        if not temporary:
            cognito.admin_set_user_password(UserPoolId=self.pool_id, Username=username, Password=password, Permanent=True)
        return username, password

    def sign_in(self, username: str | None = None, password: str | None = None, client_id: str | None = None) -> dict[str, Any]:
        """InitiateAuth's whole answer (its AuthenticationResult, or a challenge) for a user, the
        banner's by default."""
        answer: dict[str, Any] = self.client("cognito-idp").initiate_auth(
            AuthFlow="USER_PASSWORD_AUTH",
            ClientId=client_id or self.client_id,
            AuthParameters={"USERNAME": username or self.username, "PASSWORD": password or self.password},
        )
        return answer

    def tokens(self, username: str | None = None, password: str | None = None, client_id: str | None = None) -> dict[str, str]:
        """The tokens of a user whose password is permanent."""
        tokens: dict[str, str] = self.sign_in(username, password, client_id)["AuthenticationResult"]
        return tokens

    def invocations(self) -> int:
        """Endpoint calls so far, over every endpoint (the endpoint server's test hook)."""
        _, _, body = http("GET", f"{self.url}/_local/stats", content_type=None)
        return sum(endpoint["invocations"] for endpoint in json.loads(body)["endpoints"].values())

    def executions(self) -> int:
        """Executions started so far (the local Step Functions)."""
        pages = self.client("stepfunctions").get_paginator("list_executions").paginate(stateMachineArn=STATE_MACHINE)
        return sum(len(page["executions"]) for page in pages)

    def execution_input(self, request_id: str) -> Any:
        arn = f"{STATE_MACHINE.replace(':stateMachine:', ':execution:')}:{request_id}"
        return json.loads(self.client("stepfunctions").describe_execution(executionArn=arn)["input"])

    def use_up_quota(self, username: str, images: int = 200) -> None:
        """The user's images of today counted as ``images`` (the quota item Prepare updates, keyed
        as docs/design.md says)."""
        cognito = self.client("cognito-idp")
        attributes = cognito.admin_get_user(UserPoolId=self.pool_id, Username=username)["UserAttributes"]
        sub = next(attribute["Value"] for attribute in attributes if attribute["Name"] == "sub")
        self.client("dynamodb").put_item(
            TableName=USAGE_TABLE,
            Item={"pk": {"S": f"USER#{sub}"}, "sk": {"S": f"QUOTA#{datetime.now(UTC):%Y-%m-%d}"}, "images": {"N": str(images)}},
        )
