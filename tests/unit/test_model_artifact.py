"""`make model-artifact`: the layout the Hugging Face inference container reads, reproducibly."""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from text2image.local.containers import endpoint_module
from text2image.model_artifact import build_model_artifact
from text2image.paths import ENDPOINT_CODE

CODE = ["code/inference.py", "code/compile_shapes.py", "code/jumpstart_contract.py", "code/scheduler_choice.py", "code/requirements.txt"]


def test_the_artifact_holds_the_model_at_its_root_and_the_handler_in_code(tiny_pipeline_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "model.tar.gz"
    names = build_model_artifact(out, tiny_pipeline_dir)
    with tarfile.open(out) as archive:
        assert archive.getnames() == names
        archive.extractall(tmp_path / "opt-ml-model", filter="data")
    root = tmp_path / "opt-ml-model"
    assert (root / "model_index.json").is_file() and (root / "unet" / "config.json").is_file()
    assert names[-len(CODE) :] == CODE
    # Every module the handler may import travels with it.
    assert {path.name for path in ENDPOINT_CODE.glob("*.py")} == {name.removeprefix("code/") for name in CODE if name.endswith(".py")}
    assert all((root / name).read_bytes() == (ENDPOINT_CODE / name.removeprefix("code/")).read_bytes() for name in CODE)
    assert "diffusers" in (root / "code" / "requirements.txt").read_text()
    # As the container does: model_fn gets /opt/ml/model, the folder the archive unpacks into.
    model = endpoint_module("inference").model_fn(str(root))
    assert type(model.pipeline).__name__ == "StableDiffusionPipeline"


def test_the_same_inputs_give_the_same_bytes(tiny_pipeline_dir: Path, tmp_path: Path) -> None:
    build_model_artifact(tmp_path / "a.tar.gz", tiny_pipeline_dir)
    build_model_artifact(tmp_path / "b.tar.gz", tiny_pipeline_dir)
    assert (tmp_path / "a.tar.gz").read_bytes() == (tmp_path / "b.tar.gz").read_bytes()


def test_without_a_model_only_the_code_is_packed(tmp_path: Path) -> None:
    assert build_model_artifact(tmp_path / "code.tar.gz") == CODE


def test_a_folder_that_is_not_a_model_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a diffusers model folder"):
        build_model_artifact(tmp_path / "out" / "model.tar.gz", tmp_path)
    assert not (tmp_path / "out").exists()


def test_the_command_reports_what_it_built(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "text2image.cli", "model-artifact", "--out", str(tmp_path / "m.tar.gz")], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert f"{tmp_path / 'm.tar.gz'}: {len(CODE)} files" in out.stdout
