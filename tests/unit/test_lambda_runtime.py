"""The Lambda folders' tests run on the Python the functions deploy on (text2image/manifest.py's
LAMBDA_PYTHON): `make lambda-venv` builds their environment with it, and `make test-lambda-runtime`
runs this file there too, with only the project and the lambda-test group (no CDK)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from text2image import manifest
from text2image.paths import ROOT


def test_make_test_lambda_runtime_uses_the_manifests_python() -> None:
    dry_run = subprocess.run(["make", "-n", "test-lambda-runtime"], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60).stdout
    assert "UV_PROJECT_ENVIRONMENT=.venv-lambda" in dry_run and f" --python {manifest.LAMBDA_PYTHON} " in dry_run
    assert ".venv-lambda/bin/python -m pytest" in dry_run and "tests/unit/test_lambda_runtime.py" in dry_run


def imported_top_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_every_unit_and_integration_test_of_a_lambda_folder_runs_there() -> None:
    """A test file of tests/unit or tests/integration that imports a Lambda folder's module is
    among the runtime's tests, unless it also needs the CDK, which that environment lacks."""
    dry_run = subprocess.run(["make", "-n", "test-lambda-runtime"], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60).stdout
    selected = set(next(line for line in dry_run.splitlines() if ".venv-lambda/bin/python -m pytest" in line).split("-m pytest", 1)[1].split())
    function_modules = {path.stem for function in manifest.LAMBDAS for path in function.path.glob("*.py")}
    missing = []
    for path in sorted([*(ROOT / "tests" / "unit").glob("test_*.py"), *(ROOT / "tests" / "integration").glob("test_*.py")]):
        imported = imported_top_modules(path)
        if imported & function_modules and not imported & {"infra", "aws_cdk"}:
            test_file = path.relative_to(ROOT)
            if not {str(test_file), str(test_file.parent)} & selected:
                missing.append(str(test_file))
    assert not missing, f"add to the Makefile's LAMBDA_TESTS: {missing}"


@pytest.fixture(scope="session")
def lambda_python() -> Path:
    """The interpreter of .venv-lambda, built by `make lambda-venv` (about a second when it is up
    to date), so that the test checks what it built, on a clean clone too."""
    subprocess.run(["make", "lambda-venv"], cwd=ROOT, check=True, timeout=600)
    return ROOT / ".venv-lambda" / "bin" / "python"


def test_that_environment_runs_the_manifests_python(lambda_python: Path) -> None:
    """Run there, this is the interpreter itself; run in the project's environment, it asks
    the one `make lambda-venv` built."""
    version = subprocess.run([str(lambda_python), "-c", "import sys; print(*sys.version_info[:2], sep='.')"], capture_output=True, text=True, check=True)
    assert version.stdout.strip() == manifest.LAMBDA_PYTHON
    if Path(sys.prefix).resolve() == lambda_python.parent.parent.resolve():
        assert f"{sys.version_info.major}.{sys.version_info.minor}" == manifest.LAMBDA_PYTHON
