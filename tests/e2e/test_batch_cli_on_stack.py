"""`text2image batch FILE --wait --out DIR` as a user runs it against the local stack: the real
POST /text2image/batches, the batch workflow and its status.json through the gateway, every image
saved as DIR/<line>/<index>.jpeg; the same file again is the same batch (nothing runs twice, nothing
is fetched twice); a file with bad lines is refused naming each, and nothing runs."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from support import invocations, jpeg_dimensions, run_cli

from text2image.local.stack import LocalStack

SIZE = 256


def cli(stack: LocalStack, config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(stack.gateway.url, config, *args, timeout=180)


def test_a_small_jsonl_runs_to_the_end_and_every_image_is_saved_by_line(clean_stack: LocalStack, tmp_path: Path) -> None:
    requests = [{"text": f"a batch line {n}", "num_images": images, "width": SIZE, "height": SIZE} for n, images in enumerate((2, 1, 2, 2))]
    lines = [json.dumps(request) for request in requests]
    file = tmp_path / "prompts.jsonl"
    file.write_text("\n".join([*lines[:2], "", *lines[2:]]) + "\n")  # a blank line: the lines keep their numbers in the file
    out = tmp_path / "out"
    first = cli(clean_stack, tmp_path, "batch", str(file), "--wait", "--out", str(out))
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[-2:] == ["batch succeeded: 4/4 lines, 0 failed, 7 images", f"7 images in {out}/<line>/<index>.jpeg (0 already there)"]
    saved = sorted(path.relative_to(out).as_posix() for path in out.rglob("*") if path.is_file())
    assert saved == ["1/0.jpeg", "1/1.jpeg", "2/0.jpeg", "4/0.jpeg", "4/1.jpeg", "5/0.jpeg", "5/1.jpeg"]
    assert all(jpeg_dimensions((out / name).read_bytes()) == (SIZE, SIZE) for name in saved)
    assert len({(out / name).read_bytes() for name in saved}) == len(saved)
    assert "succeeded: line" in first.stderr  # the lines as they ended (not a terminal: no bars redrawn)
    calls = invocations(clean_stack)

    again = cli(clean_stack, tmp_path, "batch", str(file), "--wait", "--out", str(out))
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[0] == first.stdout.splitlines()[0]  # the same batch id
    assert again.stdout.splitlines()[-1] == f"7 images in {out}/<line>/<index>.jpeg (7 already there)"
    assert invocations(clean_stack) == calls


def test_a_file_with_bad_lines_is_refused_naming_each_and_nothing_runs(clean_stack: LocalStack, tmp_path: Path) -> None:
    lines = [json.dumps({"text": f"line {n}", "width": SIZE, "height": SIZE}) for n in range(1, 21)]
    lines[2] = json.dumps({"text": ""})
    lines[16] = '{"text": "no end"'
    file = tmp_path / "prompts.jsonl"
    file.write_text("\n".join(lines) + "\n")
    out = cli(clean_stack, tmp_path, "batch", str(file), "--wait", "--out", str(tmp_path / "out"))
    assert out.returncode == 2, out.stderr
    refused = out.stderr.splitlines()
    assert refused[0].startswith(f"text2image batch: {file} refused (400): 2 of 20 lines are invalid")
    assert refused[1] == "line 3: text: must not be empty"
    assert refused[2].startswith("line 17: body: is not a JSON object on one line")
    assert out.stdout == "" and not (tmp_path / "out").exists()
    assert invocations(clean_stack) == {"sd-local-1": 0, "sd-local-2": 0}
