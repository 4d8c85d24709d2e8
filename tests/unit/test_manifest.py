"""The functions' manifest (text2image/manifest.py) is the one declaration the deployed stack,
the local stack and the runtime tests read."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from text2image import manifest
from text2image.local.aws import definition_substitutions
from text2image.paths import ROOT, STATE_MACHINE


def imported_modules(*modules: str) -> set[str]:
    """Every module a fresh interpreter loads to import ``modules``: the real import graph."""
    code = f"import json, sys\nimport {', '.join(modules)}\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True, timeout=120)
    found: set[str] = set(json.loads(done.stdout))
    return found


def test_the_deployed_stack_depends_on_nothing_of_the_local_emulator() -> None:
    loaded = imported_modules("infra.app", "infra.stack")
    assert "infra.functions" in loaded and "text2image.manifest" in loaded
    assert not {m for m in loaded if m.startswith("text2image.local")}


def test_the_manifest_stands_on_neutral_ground() -> None:
    loaded = imported_modules("text2image.manifest")
    assert not {m for m in loaded if m.startswith(("text2image.local", "infra", "aws_cdk", "moto"))}


def test_every_placeholder_of_the_workflow_file_is_the_manifests() -> None:
    placeholders = set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", STATE_MACHINE.read_text(encoding="utf-8")))
    arns = {function.name: f"arn:{function.name}" for function in manifest.LAMBDAS}
    assert placeholders == set(manifest.definition_substitutions(arns, "aws")) == set(definition_substitutions())
    assert len({f.name for f in manifest.LAMBDAS}) == len(manifest.LAMBDAS)
    assert len({f.arn_placeholder for f in manifest.WORKFLOW_LAMBDAS}) == len(manifest.WORKFLOW_LAMBDAS) == 3


def test_each_function_folder_holds_its_handler_module() -> None:
    assert {path.name for path in (ROOT / "functions").iterdir() if path.is_dir() and not path.name.startswith("__")} == {f.folder for f in manifest.LAMBDAS}
    for function in manifest.LAMBDAS:
        assert (function.path / f"{function.handler.split('.')[0]}.py").is_file()


def test_the_functions_deploy_on_the_manifests_python() -> None:
    from infra.functions import RUNTIME

    assert RUNTIME.name == manifest.LAMBDA_RUNTIME == f"python{manifest.LAMBDA_PYTHON}"
