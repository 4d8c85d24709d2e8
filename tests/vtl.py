"""Render API Gateway mapping templates in Apache Velocity 1.7, the engine API Gateway's VTL
comes from, through tests/velocity/ApiGatewayVtl.java (API Gateway's ``$input``, ``$util``,
``$context`` and ``$stageVariables``). One JVM renders every template of a test session: the
runner reads one JSON case per line and answers one JSON line each.

Needs a JDK and Debian's velocity, libcommons-lang-java and libjson-simple-java (``make velocity``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

RUNNER = Path(__file__).parent / "velocity" / "ApiGatewayVtl.java"
JARS = tuple(Path("/usr/share/java") / name for name in ("velocity.jar", "commons-collections3.jar", "commons-lang.jar", "json-simple.jar"))
REQUEST_ID = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"


class VelocityMissing(RuntimeError):
    pass


@dataclass(frozen=True)
class Rendered:
    """What a mapping template made: the body, and the status and headers it set through
    ``$context.responseOverride`` (None / empty where it set none)."""

    output: str
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)


class TemplateFailed(AssertionError):
    """Velocity refused the template or a method it called threw (API Gateway answers 5XX)."""


class Velocity:
    """The runner, compiled into ``build_dir`` and started once; ``close()`` ends it."""

    def __init__(self, build_dir: Path) -> None:
        missing = [str(jar) for jar in JARS if not jar.is_file()] + [tool for tool in ("javac", "java") if not shutil.which(tool)]
        if missing:
            raise VelocityMissing(f"missing {', '.join(missing)}: run `make velocity`")
        classpath = ":".join(str(jar) for jar in JARS)
        subprocess.run(["javac", "-nowarn", "-d", str(build_dir), "-cp", classpath, str(RUNNER)], check=True)
        self._process = subprocess.Popen(
            ["java", "-cp", f"{build_dir}:{classpath}", RUNNER.stem],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )

    def render(
        self,
        template: str,
        body: str = "",
        *,
        context: dict[str, Any] | None = None,
        stage_variables: dict[str, str] | None = None,
        params: dict[str, dict[str, str]] | None = None,
    ) -> Rendered:
        """Render ``template`` for ``body``; ``context`` adds to ``$context`` (whose
        ``requestId`` is REQUEST_ID unless given)."""
        case = {"template": template, "body": body, "context": {"requestId": REQUEST_ID, **(context or {})}}
        case |= {"stageVariables": stage_variables or {}, "params": params or {}}
        stdin, stdout = self._pipes()
        stdin.write(json.dumps(case) + "\n")
        stdin.flush()
        answer = json.loads(stdout.readline())
        if answer["error"] is not None:
            raise TemplateFailed(answer["error"])
        return Rendered(answer["output"], answer["status"], answer["headers"])

    def _pipes(self) -> tuple[IO[str], IO[str]]:
        stdin, stdout = self._process.stdin, self._process.stdout
        assert stdin is not None and stdout is not None
        if self._process.poll() is not None:
            raise RuntimeError(f"the Velocity runner exited with {self._process.returncode}")
        return stdin, stdout

    def close(self) -> None:
        if self._process.stdin is not None:
            self._process.stdin.close()
        self._process.wait(timeout=30)
