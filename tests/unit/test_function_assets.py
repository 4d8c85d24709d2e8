"""Each Lambda folder is a self-contained asset: its handler at its root, no imports from
the rest of the repo, and module names unique across folders (the local stack imports
all three into one process)."""

from __future__ import annotations

import ast
import sys

from text2image.manifest import LAMBDAS
from text2image.paths import FUNCTIONS

# The Lambda runtime's SDK, and the Powertools layer, which ships its extras ("all"): fastjsonschema
# is its validation engine (request_validation.py compiles the schema with it once per container).
ALLOWED_THIRD_PARTY = {"boto3", "botocore", "aws_lambda_powertools", "fastjsonschema"}


def local_modules(folder: str) -> set[str]:
    return {path.stem for path in (FUNCTIONS / folder).glob("*.py")}


def test_module_names_do_not_collide_across_function_folders() -> None:
    seen: dict[str, str] = {}
    for folder in dict.fromkeys(function.folder for function in LAMBDAS):  # a folder may hold several functions' handlers
        for module in local_modules(folder):
            assert module not in seen, f"{module}.py is in both {seen[module]} and {folder}"
            seen[module] = folder


def runtime_nodes(tree: ast.Module) -> list[ast.AST]:
    """Every node but those under ``if TYPE_CHECKING:``: type-only imports (the boto3 stubs)
    are read by mypy, never by the Lambda runtime."""
    type_only = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and isinstance(block.test, ast.Name) and block.test.id == "TYPE_CHECKING"
        for statement in block.body
        for node in ast.walk(statement)
    }
    return [node for node in ast.walk(tree) if id(node) not in type_only]


def test_functions_import_only_the_stdlib_their_own_modules_and_the_runtime() -> None:
    for function in LAMBDAS:
        own = local_modules(function.folder)
        assert function.handler.split(".")[0] in own
        for path in function.path.glob("*.py"):
            for node in runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
                names = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names = [node.module]
                for name in names:
                    top = name.split(".")[0]
                    assert top in own | ALLOWED_THIRD_PARTY | set(sys.stdlib_module_names) | {"__future__"}, f"{path.name} imports {name}"


def test_the_schema_ships_inside_the_prepare_asset() -> None:
    assert (FUNCTIONS / "prepare" / "request.schema.json").is_file()
    copies = [p for p in FUNCTIONS.parent.rglob("request.schema.json") if not {".venv", ".venv-lambda", "node_modules", "cdk.out"} & set(p.parts)]
    assert copies == [FUNCTIONS / "prepare" / "request.schema.json"], "the schema must exist once"
