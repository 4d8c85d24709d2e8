"""The CLI's sign-in: ``text2image login`` signs a user in at an API's user pool (found through
its /config.json), keeps the tokens (token_store.py), hands ``generate`` and ``history`` an ID
token refreshed before it expires, and ``text2image logout`` revokes and forgets them."""

from __future__ import annotations

import time
from collections.abc import Callable

from text2image.client import discovery
from text2image.cognito_client import NEW_PASSWORD_REQUIRED, Challenge, SignInFailed, Tokens, UserPoolClient
from text2image.token_store import Session, TokenStore

# An ID token with less than this left is refreshed before a call: a generate that waits for its
# run (up to 5 minutes) must not see its token expire between the call and the answer.
REFRESH_MARGIN_SECONDS = 300


class NotSignedIn(Exception):
    """The user has to sign in (again): the message says how."""


class OpenApi(Exception):
    """The API has no sign-in (its /config.json says ``"auth": null``)."""


def user_pool_of(api: str) -> UserPoolClient:
    auth = discovery(api).get("auth")
    if not auth:
        raise OpenApi(f"the API at {api} needs no sign-in (its /config.json says auth: null)")
    return UserPoolClient(auth["endpoint"], auth["clientId"])


def session_of(pool: UserPoolClient, tokens: Tokens) -> Session:
    return Session(
        username=tokens.username,
        id_token=tokens.id_token,
        refresh_token=tokens.refresh_token,
        expires=tokens.expires,
        client_id=pool.client_id,
        endpoint=pool.endpoint,
    )


def login(api: str, username: str, password: str, new_password: Callable[[], str], store: TokenStore) -> Session:
    """Sign in (``new_password()`` answers NEW_PASSWORD_REQUIRED, the first sign-in of a user an
    administrator created) and keep the tokens for ``api``. Raises SignInFailed or OpenApi."""
    pool = user_pool_of(api)
    outcome = pool.sign_in(username, password)
    if isinstance(outcome, Challenge) and outcome.name == NEW_PASSWORD_REQUIRED:
        outcome = pool.set_new_password(outcome, new_password())
    if isinstance(outcome, Challenge):
        raise SignInFailed(outcome.name, "the user pool asks for a sign-in step this CLI does not take")
    session = session_of(pool, outcome)
    store.put(api, session)
    return session


def id_token(api: str, store: TokenStore, now: Callable[[], float] = time.time) -> str | None:
    """The ID token to send to ``api`` (None when not signed in there), refreshed first when it
    has less than REFRESH_MARGIN_SECONDS left."""
    session = store.get(api)
    if session is None:
        return None
    if session.expires - now() >= REFRESH_MARGIN_SECONDS:
        return session.id_token
    pool = UserPoolClient(session.endpoint, session.client_id)
    try:
        tokens = pool.refresh(session.refresh_token)
    except SignInFailed as exc:  # expired or revoked refresh token, or a pool that is gone
        store.remove(api)
        raise NotSignedIn(f"your sign-in at {api} has ended ({exc}); sign in again with: text2image login --api {api}") from None
    store.put(api, session_of(pool, tokens))
    return tokens.id_token


def logout(api: str, store: TokenStore) -> tuple[Session | None, str | None]:
    """Forget the tokens for ``api`` and revoke the refresh token at Cognito (RevokeToken), so a
    copy of it is no use either: the session forgotten, and why Cognito did not revoke it (None
    when it did). The tokens are forgotten whatever Cognito answers."""
    session = store.remove(api)
    if session is None:
        return None, None
    try:
        UserPoolClient(session.endpoint, session.client_id).revoke(session.refresh_token)
    except (SignInFailed, OSError) as exc:
        return session, str(exc)
    return session, None
