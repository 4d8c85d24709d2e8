"""Render API Gateway mapping templates in tests, as API Gateway would.

Velocity comes from airspeed (Velocity in Python); API Gateway's ``$input``, ``$util`` and
``$context`` are emulated here:
- ``$util.escapeJavaScript`` follows Apache Commons Lang 2 ``StringEscapeUtils.escapeJavaScript``
  (what API Gateway documents: it escapes ``'`` as ``\\'``, ``/`` as ``\\/``, and every char
  beyond ASCII as ``\\uXXXX`` on UTF-16 code units);
- String results are Java strings: ``replaceAll`` takes a Java regex;
- airspeed un-escapes ``\\\\`` inside string literals, Velocity 1.7 (API Gateway) does not, so
  backslashes in literals are doubled before airspeed reads the template.
"""

from __future__ import annotations

import json
import re
from typing import Any

import airspeed

_LITERAL = re.compile(r'"(?:[^"\\]|\\.)*"')


class JavaString(str):
    """The java.lang.String methods the templates call."""

    def replaceAll(self, regex: str, replacement: str) -> JavaString:  # noqa: N802 (Java's name)
        return JavaString(re.sub(regex, replacement.replace("\\", "\\\\"), self))

    def lastIndexOf(self, text: str) -> int:  # noqa: N802
        return self.rfind(text)

    def substring(self, start: int) -> JavaString:
        return JavaString(self[start:])


def escape_javascript(text: str) -> JavaString:
    out = []
    units = text.encode("utf-16-be")
    for i in range(0, len(units), 2):
        ch = int.from_bytes(units[i : i + 2], "big")
        if ch > 0x7F:
            out.append(f"\\u{ch:04X}")
        elif ch < 32:
            out.append({8: "\\b", 9: "\\t", 10: "\\n", 12: "\\f", 13: "\\r"}.get(ch, f"\\u{ch:04X}"))
        else:
            c = chr(ch)
            out.append({"'": "\\'", '"': '\\"', "\\": "\\\\", "/": "\\/"}.get(c, c))
    return JavaString("".join(out))


class Util:
    def escapeJavaScript(self, text: str) -> JavaString:  # noqa: N802
        return escape_javascript(text)

    def parseJson(self, text: str) -> Any:  # noqa: N802
        return json.loads(text)


class Input:
    def __init__(self, body: str) -> None:
        self.body = body
        self._parsed = json.loads(body) if body else None

    def json(self, path: str) -> JavaString:
        return JavaString(json.dumps(self._at(path), ensure_ascii=False, separators=(",", ":")))

    def path(self, path: str) -> Any:
        value = self._at(path)
        return JavaString(value) if isinstance(value, str) else value

    def _at(self, path: str) -> Any:
        value = self._parsed
        for part in filter(None, path.removeprefix("$").split(".")):
            value = value.get(part) if isinstance(value, dict) else None
        return value


def render(
    template: str, body: str, request_id: str = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef", stage_variables: dict[str, str] | None = None
) -> tuple[str, dict[str, Any]]:
    """(output, context): the rendered text and the ``$context`` after rendering (its
    ``responseOverride.status`` is the HTTP status the template chose)."""
    velocity_literal = _LITERAL.sub(lambda m: m.group(0).replace("\\", "\\\\"), template)
    context: dict[str, Any] = {"requestId": request_id, "responseOverride": {}}
    namespace = {"input": Input(body), "util": Util(), "context": context, "stageVariables": stage_variables or {}}
    output = airspeed.Template(velocity_literal).merge(namespace)
    return output, context
