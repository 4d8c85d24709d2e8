"""cdk-nag acknowledgments, each with a reason specific to this stack."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Stack, Token, Validations
from constructs import IConstruct

NAG_PACK = "AwsSolutions"


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge the AwsSolutions finding ``rule`` (e.g. ``AwsSolutions-IAM5[Resource::*]``)
    on ``scope`` and everything under it, as cdk-nag names it: ``AwsSolutions::<rule>``."""
    Validations.of(scope).acknowledge(Acknowledgment(id=f"{NAG_PACK}::{rule}", reason=reason))


def as_nag_prints(stack: Stack, text: str) -> str:
    """``text`` with {region} and {account} as cdk-nag prints them in finding ids: the
    pseudo parameter when the stack is environment-agnostic, the value when it is not."""
    region = "<AWS::Region>" if Token.is_unresolved(stack.region) else stack.region
    account = "<AWS::AccountId>" if Token.is_unresolved(stack.account) else stack.account
    return text.format(region=region, account=account)
