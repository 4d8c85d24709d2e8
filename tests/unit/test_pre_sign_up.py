"""The user pool's pre sign-up trigger (functions/pre_sign_up): a self sign-up only for an e-mail
address of an allowed domain, administrators' users always; events in the shape Cognito sends."""

from __future__ import annotations

from typing import Any

import pytest

import pre_sign_up
from text2image.local.lambdas import LambdaContext

CONTEXT: Any = LambdaContext("text2image-pre-sign-up")  # the attributes of the runtime's context that Powertools reads


@pytest.fixture(autouse=True)
def domains(monkeypatch: pytest.MonkeyPatch, cold_start: None) -> None:
    monkeypatch.setenv("SIGN_UP_DOMAINS", "example.org,staff.example.co.uk")


def event(email: str | None, trigger: str = "PreSignUp_SignUp") -> dict[str, Any]:
    """A pre sign-up event as Cognito sends it (Lambda triggers: pre sign-up)."""
    attributes = {} if email is None else {"email": email}
    return {
        "version": "1",
        "region": "eu-west-1",
        "userPoolId": "eu-west-1_AbC123",
        "userName": "alice",
        "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": "3n4b5urk1ft4fl3mg5e0dn8dp"},
        "triggerSource": trigger,
        "request": {"userAttributes": attributes, "validationData": None},
        "response": {"autoConfirmUser": False, "autoVerifyEmail": False, "autoVerifyPhone": False},
    }


@pytest.mark.parametrize("email", ["alice@example.org", "Bob.Smith@EXAMPLE.ORG", "c+tag@staff.example.co.uk", " d@example.org "])
def test_an_address_of_an_allowed_domain_signs_up_and_still_confirms_it(email: str) -> None:
    sent = event(email)
    assert pre_sign_up.handler(sent, CONTEXT) == event(email)  # nothing confirmed or verified for them


@pytest.mark.parametrize(
    "email",
    [
        "mallory@example.com",
        "mallory@evil.example.org",  # a subdomain is another domain
        "mallory@example.org.evil.com",
        "example.org@evil.com",
        "mallory@staff.example.co.uk.",
        "@example.org",
        "example.org",
        "",
        None,
    ],
)
def test_any_other_address_is_refused_saying_why(email: str | None) -> None:
    with pytest.raises(pre_sign_up.SignUpRefused, match="cannot sign up here; ask the administrator"):
        pre_sign_up.handler(event(email), CONTEXT)


def test_a_federated_first_sign_in_is_checked_like_a_sign_up() -> None:
    with pytest.raises(pre_sign_up.SignUpRefused):
        pre_sign_up.handler(event("mallory@example.com", "PreSignUp_ExternalProvider"), CONTEXT)


def test_users_an_administrator_creates_are_never_refused() -> None:
    sent = event("guest@elsewhere.net", "PreSignUp_AdminCreateUser")
    assert pre_sign_up.handler(sent, CONTEXT) == sent


def test_the_domains_are_read_at_a_cold_start(monkeypatch: pytest.MonkeyPatch) -> None:
    assert pre_sign_up.handler(event("a@example.org"), CONTEXT)
    monkeypatch.setenv("SIGN_UP_DOMAINS", "other.net")
    assert pre_sign_up.handler(event("a@example.org"), CONTEXT)  # the same container keeps its settings
    pre_sign_up.allowed_domains.cache_clear()
    with pytest.raises(pre_sign_up.SignUpRefused):
        pre_sign_up.handler(event("a@example.org"), CONTEXT)
