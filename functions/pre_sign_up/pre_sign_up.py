"""Pre sign-up trigger of the user pool, deployed only with ``text2image:signUpDomains``: a person
may sign up themselves only with an e-mail address in one of those domains (and still confirms
it with the code Cognito mails before signing in). Users an administrator creates are not
checked: whom to invite is the administrator's call.

Cognito calls this before it creates the user; an exception refuses the sign-up, and Cognito
answers the client ``UserLambdaValidationException: PreSignUp failed with error <message>.``
The event goes back unchanged: nothing is confirmed or verified automatically.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()

# The trigger source of AdminCreateUser; self sign-up is PreSignUp_SignUp, a federated first
# sign-in PreSignUp_ExternalProvider (checked like a sign-up, though this pool federates nothing).
ADMIN_CREATE_USER = "PreSignUp_AdminCreateUser"
REFUSED_MESSAGE = "addresses of this e-mail domain cannot sign up here; ask the administrator for an account"


class SignUpRefused(Exception):
    """The address is not in an allowed domain; ``str()`` is what Cognito tells the client."""


@cache
def allowed_domains() -> frozenset[str]:
    """SIGN_UP_DOMAINS, comma-separated (infra/config.py checked them at synth)."""
    return frozenset(domain.strip().lower() for domain in os.environ["SIGN_UP_DOMAINS"].split(",") if domain.strip())


def email_domain(email: str) -> str | None:
    """The domain of ``local@domain``, lower case; None for anything without both parts."""
    local, at, domain = email.strip().rpartition("@")
    return domain.lower() if at and local and domain else None


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if event["triggerSource"] == ADMIN_CREATE_USER:
        return event
    domain = email_domain(str(event["request"]["userAttributes"].get("email", "")))
    if domain is None or domain not in allowed_domains():
        # The domain only: the address is personal data, and the domain says why.
        logger.info("sign-up refused", extra={"domain": domain, "trigger": event["triggerSource"]})
        raise SignUpRefused(REFUSED_MESSAGE)
    return event
