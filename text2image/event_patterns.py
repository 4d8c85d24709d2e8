"""The EventBridge rules that start the workflow, shared by the CDK app and the local stack.

The Prepare function recognises the same two shapes (functions/prepare/sources.py keeps
its own constants because a Lambda asset imports nothing from the repo;
tests/unit/test_event_patterns.py proves the two agree).
"""

from __future__ import annotations

from typing import Any

PROMPTS_PREFIX = "prompts/"
CUSTOM_SOURCE = "text2image"
CUSTOM_DETAIL_TYPE = "Text2Image Request"


PROMPT_FILE_SUFFIX = ".json"


def prompt_file_pattern(bucket: str) -> dict[str, Any]:
    """A ``.json`` request file created under ``prompts/`` in the stack's bucket."""
    return {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [bucket]}, "object": {"key": [{"wildcard": f"{PROMPTS_PREFIX}*{PROMPT_FILE_SUFFIX}"}]}},
    }


# A batch file (.jsonl or .csv) dropped here is submitted as a batch (functions/prepare/batches.py's
# drop_handler, which also records a badly named one as refused: the rule takes every key under it).
BATCH_INBOX_PREFIX = "batches/inbox/"
# The largest file the drop takes: read whole from S3 by a 512 MB function, checked line by line
# (text2image:maxBatchLines lines of about 3 KB each; bench/batch_check.py measures its time and
# memory). Eight times what POST /text2image/batches takes (text2image/routes.py BATCH_MAX_BYTES):
# a file too big for the API goes here.
BATCH_DROP_MAX_BYTES = 32 * 1024 * 1024


def batch_file_pattern(bucket: str) -> dict[str, Any]:
    """Any object created under ``batches/inbox/`` in the stack's bucket."""
    return {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [bucket]}, "object": {"key": [{"prefix": BATCH_INBOX_PREFIX}]}},
    }


def custom_event_pattern() -> dict[str, Any]:
    """``source: text2image``, ``detail-type: Text2Image Request``, ``detail`` = the request."""
    return {"source": [CUSTOM_SOURCE], "detail-type": [CUSTOM_DETAIL_TYPE]}
