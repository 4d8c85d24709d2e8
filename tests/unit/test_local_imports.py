"""The local stack's walls, read from the source: LocalAWS is the one door to the binding of
moto's engine, the gateway holds no endpoint server (it reaches the test hooks over HTTP), one
module owns the HTTP plumbing, and text2image's modules import one another without a cycle."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

from text2image.paths import ROOT

PACKAGE = ROOT / "text2image"
ENGINE = "text2image.local.engine"


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


@cache
def imports(path: Path) -> frozenset[str]:
    """Every module ``path`` imports, anywhere in it (``from a import b`` counts as a and a.b)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return frozenset(found)


def python_files(*folders: str) -> list[Path]:
    return sorted(path for folder in folders for path in (ROOT / folder).rglob("*.py"))


def test_only_the_aws_stand_in_imports_the_engine_binding() -> None:
    importers = {str(path.relative_to(ROOT)) for path in python_files("text2image", "tests", "bench") if ENGINE in imports(path)}
    assert importers == {"text2image/local/aws.py"}, "go through LocalAWS (wait, start_execution; engine_hooks for tests)"


def test_the_gateway_holds_no_endpoint_server() -> None:
    assert "text2image.local.endpoints" not in imports(PACKAGE / "local" / "gateway.py")


def test_one_module_owns_the_http_plumbing() -> None:
    owners = {module_name(path) for path in python_files("text2image") if "http.server" in imports(path)}
    assert owners == {"text2image.local.http_service"}


def test_text2image_imports_no_cycle() -> None:
    modules = {module_name(path): path for path in python_files("text2image")}
    graph = {name: sorted(imports(path) & modules.keys() - {name}) for name, path in modules.items()}
    done: set[str] = set()

    def visit(name: str, trail: list[str]) -> None:
        if name in trail:
            raise AssertionError("import cycle: " + " -> ".join([*trail[trail.index(name) :], name]))
        if name not in done:
            for imported in graph[name]:
                visit(imported, [*trail, name])
            done.add(name)

    for name in sorted(graph):
        visit(name, [])
