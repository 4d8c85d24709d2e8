"""The model artifact in the real SageMaker Hugging Face inference toolkit: it finds
code/inference.py in the unpacked archive, loads the model, answers the contract, and the
local endpoint server's container host answers exactly as it does."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

from text2image.local.containers import ContainerError, InferenceScriptContainer
from text2image.model_artifact import build_model_artifact

HOST = Path(__file__).parent.parent / "toolkit_host.py"
JPEG = {"Content-Type": "application/json", "Accept": "application/json;jpeg"}
GOOD = {"prompt": "a cat", "width": 64, "height": 64, "num_inference_steps": 2, "num_images_per_prompt": 2, "seed": 3}
BAD = {**GOOD, "width": 65}


@pytest.fixture(scope="module")
def toolkit(tiny_pipeline_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The answers of the toolkit, in its own process, to GOOD then BAD, from /opt/ml/model as unpacked."""
    work = tmp_path_factory.mktemp("toolkit")
    build_model_artifact(work / "model.tar.gz", tiny_pipeline_dir)
    with tarfile.open(work / "model.tar.gz") as archive:
        archive.extractall(work / "model", filter="data")
    requests = [{"headers": JPEG, "body": json.dumps(GOOD)}, {"headers": JPEG, "body": json.dumps(BAD)}]
    run = subprocess.run([sys.executable, str(HOST), str(work / "model")], input=json.dumps(requests), capture_output=True, text=True, cwd=work, timeout=120)
    assert run.returncode == 0, run.stderr
    outcome: dict[str, Any] = json.loads(run.stdout)
    outcome["model_dir"] = work / "model"
    return outcome


def test_the_toolkit_imports_the_handler_from_the_artifacts_code_folder(toolkit: dict[str, Any]) -> None:
    assert Path(toolkit["module"]) == toolkit["model_dir"] / "code" / "inference.py"


def test_the_toolkit_answers_the_contract_as_the_local_endpoint_does(toolkit: dict[str, Any], tiny_pipeline_dir: Path) -> None:
    good = toolkit["answers"][0]
    assert good["status"] == 200 and good["content_type"] == "application/json;jpeg"
    assert len(json.loads(good["body"])["generated_images"]) == 2
    local = InferenceScriptContainer(tiny_pipeline_dir).invoke(json.dumps(GOOD).encode(), "application/json", "application/json;jpeg")
    assert good["body"].encode() == local


def test_a_bad_request_is_the_same_400_in_the_toolkit_and_locally(toolkit: dict[str, Any], tiny_pipeline_dir: Path) -> None:
    bad = toolkit["answers"][1]
    with pytest.raises(ContainerError) as local:
        InferenceScriptContainer(tiny_pipeline_dir).invoke(json.dumps(BAD).encode(), "application/json", "application/json;jpeg")
    assert (bad["status"], bad["message"]) == (local.value.status, local.value.message) == (400, "width must be a multiple of 8, not 65")
