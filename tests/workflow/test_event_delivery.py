"""Events, as a user makes them locally: a prompt file dropped under prompts/, or a custom
event put on the bus. The same rules as the deployed stack start the workflow."""

from __future__ import annotations

import json
import time
from typing import Any

from support import keys_under, read_manifest

from text2image.local.aws import BUCKET
from text2image.local.stack import LocalStack

DEADLINE = 30.0


def wait_for_new_manifests(stack: LocalStack, before: list[str], count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + DEADLINE
    while True:
        new = [key for key in keys_under(stack, "requests/") if key not in before]
        if len(new) >= count:
            return [read_manifest(stack, key.removeprefix("requests/").removesuffix(".json")) for key in new]
        assert time.monotonic() < deadline, f"only {len(new)} of {count} runs finished within {DEADLINE} s"
        time.sleep(0.02)


def test_a_prompt_file_dropped_under_prompts_starts_a_run(clean_stack: LocalStack) -> None:
    before = keys_under(clean_stack, "requests/")
    clean_stack.aws.s3.put_object(Bucket=BUCKET, Key="prompts/dropped.json", Body=json.dumps({"text": "dropped 'in' S3", "num_images": 2}).encode())
    (manifest,) = wait_for_new_manifests(clean_stack, before, 1)
    assert manifest["status"] == "succeeded" and manifest["request"]["text"] == "dropped 'in' S3"
    assert manifest["request_id"].startswith("s3-") and len(manifest["images"]) == 2


def test_files_elsewhere_in_the_bucket_start_nothing(clean_stack: LocalStack) -> None:
    def executions() -> int:
        pages = clean_stack.aws.sfn.get_paginator("list_executions").paginate(stateMachineArn=clean_stack.aws.state_machine_arn)
        return sum(len(page["executions"]) for page in pages)

    before, started = keys_under(clean_stack, "requests/"), executions()
    clean_stack.aws.s3.put_object(Bucket=BUCKET, Key="uploads/not-a-prompt.json", Body=b'{"text": "ignored"}')
    clean_stack.aws.s3.put_object(Bucket=BUCKET, Key="prompts/notes.txt", Body=b'{"text": "not a .json file"}')
    clean_stack.aws.s3.put_object(Bucket=BUCKET, Key="prompts/marker.json", Body=b'{"text": "marker", "num_images": 1}')
    manifests = wait_for_new_manifests(clean_stack, before, 1)
    assert [m["request"]["text"] for m in manifests] == ["marker"]
    assert executions() == started + 1


def test_a_custom_event_on_the_bus_starts_a_run(clean_stack: LocalStack) -> None:
    before = keys_under(clean_stack, "requests/")
    clean_stack.aws.client("events").put_events(
        Entries=[{"Source": "text2image", "DetailType": "Text2Image Request", "Detail": json.dumps({"text": "from the bus", "num_images": 1})}]
    )
    (manifest,) = wait_for_new_manifests(clean_stack, before, 1)
    assert manifest["request"]["text"] == "from the bus" and manifest["request_id"].startswith("event-")
