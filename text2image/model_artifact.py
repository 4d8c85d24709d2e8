"""``model.tar.gz`` for the SageMaker Hugging Face PyTorch inference container.

Layout (what the container's toolkit looks for under /opt/ml/model)::

    model_index.json, unet/, vae/, text_encoder/, tokenizer/, scheduler/   (optional: a diffusers folder)
    code/inference.py            model_fn, input_fn, predict_fn, output_fn
    code/jumpstart_contract.py   code/scheduler_choice.py
    code/requirements.txt        installed by the container at start

Without a model folder the artifact holds code/ only and the endpoint loads the model named
by ``SD_MODEL_ID`` from the Hugging Face Hub at start. The archive is reproducible: sorted
entries, no timestamps or owners, so the same inputs give the same bytes (and the same S3 ETag).
"""

from __future__ import annotations

import gzip
import tarfile
from collections.abc import Iterator
from pathlib import Path

from text2image.paths import ENDPOINT_CODE

CODE_FILES = ("inference.py", "compile_shapes.py", "jumpstart_contract.py", "scheduler_choice.py", "requirements.txt")


def check_diffusers_folder(model_dir: Path) -> Path:
    """``model_dir`` if it holds a diffusers pipeline (``save_pretrained``'s model_index.json),
    else ValueError saying so: before packing it, or before serving it locally."""
    if not (model_dir / "model_index.json").is_file():
        raise ValueError(f"{model_dir} is not a diffusers model folder (no model_index.json)")
    return model_dir


def artifact_entries(model_dir: Path | None) -> Iterator[tuple[str, Path]]:
    """(name in the archive, file on disk), in archive order."""
    if model_dir is not None:
        for path in sorted(check_diffusers_folder(model_dir).rglob("*")):
            relative = path.relative_to(model_dir)
            if path.is_file() and relative.parts[0] != "code" and "__pycache__" not in relative.parts:
                yield relative.as_posix(), path
    for name in CODE_FILES:
        yield f"code/{name}", ENDPOINT_CODE / name


def build_model_artifact(out: Path, model_dir: Path | None = None) -> list[str]:
    """Write the archive to ``out``; returns the entry names."""
    entries = list(artifact_entries(model_dir))
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    # Model weights barely compress; level 1 keeps building a multi-GB artifact quick.
    with (
        partial.open("wb") as raw,
        gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0, compresslevel=1) as zipped,  # no name, no time: reproducible
        tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as archive,
    ):
        for name, path in entries:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = path.stat().st_size, 0o644, 0
            with path.open("rb") as data:
                archive.addfile(info, data)
    partial.replace(out)  # never a half-written artifact under the final name
    return [name for name, _ in entries]
