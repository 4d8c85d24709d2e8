"""Where ``text2image login`` keeps a user's tokens: ``$XDG_CONFIG_HOME/text2image/tokens.json``
(``~/.config/text2image/tokens.json`` without it), one entry per API URL, readable by the user only
(the file 0600, its folder 0700). The password is never stored: the refresh token stands in
for it until it expires or is revoked.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

FILE_NAME = "tokens.json"


@dataclass(frozen=True)
class Session:
    """One signed-in user of one API: their tokens and the app client that refreshes them."""

    username: str
    id_token: str
    refresh_token: str
    expires: int  # the ID token's exp (seconds since the epoch)
    client_id: str
    endpoint: str  # where the user pool's API answers (from the API's /config.json at login)


def config_dir() -> Path:
    """The user's config folder (XDG Base Directory: a relative XDG_CONFIG_HOME is ignored)."""
    base = os.environ.get("XDG_CONFIG_HOME", "")
    return (Path(base) if os.path.isabs(base) else Path.home() / ".config") / "text2image"


def api_key(api: str) -> str:
    """One entry per API whether its URL was typed with a trailing slash or not."""
    return api.rstrip("/")


class TokenStore:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or config_dir() / FILE_NAME

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        return data if isinstance(data, dict) else {}

    def _write(self, data: dict[str, Any]) -> None:
        """Written whole to a new file made 0600 before any byte goes in, then renamed over the
        old one, so the tokens are never readable by others, nor half-written."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        temporary.unlink(missing_ok=True)  # left by a write that died: made anew, never reused with its mode
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as out:
                json.dump(data, out, indent=2)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        os.replace(temporary, self.path)

    def get(self, api: str) -> Session | None:
        entry = self._read().get(api_key(api))
        try:
            return Session(**entry) if isinstance(entry, dict) else None
        except TypeError:  # an entry of another shape (an older file): as if signed out
            return None

    def put(self, api: str, session: Session) -> None:
        data = self._read()
        data[api_key(api)] = asdict(session)
        self._write(data)

    def remove(self, api: str) -> Session | None:
        session = self.get(api)
        data = self._read()
        if data.pop(api_key(api), None) is not None:
            self._write(data)
        return session
