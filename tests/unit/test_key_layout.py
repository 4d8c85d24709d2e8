"""The S3 keys the functions write (Prepare plans images/<id>/<i>.jpeg, Collect writes
requests/<id>.json) are the keys the stack grants, expires and serves."""

from __future__ import annotations

import pytest

from collect_response import manifest_key
from infra.storage import IMAGES_PREFIX, REQUESTS_PREFIX
from planning import image_key
from request_validation import SCHEMA
from sources import request_id_for
from text2image.routes import Origin, behavior_for

REQUEST_ID = request_id_for("3f2c9a1e-8f4b-4c57-9d0e-6b1a2c3d4e5f")
LAST_INDEX = SCHEMA["properties"]["num_images"]["maximum"] - 1


@pytest.mark.parametrize("index", [0, LAST_INDEX])
def test_images_are_written_where_invoke_endpoint_may_write_and_cloudfront_caches(index: int) -> None:
    key = image_key(REQUEST_ID, index)
    assert key == f"images/{REQUEST_ID}/{index}.jpeg"
    assert key.startswith(IMAGES_PREFIX)  # InvokeEndpoint's PutObject grant and the images' expiry
    behavior = behavior_for(f"/{key}")
    assert behavior.origin == Origin.OBJECTS and behavior.cached


def test_the_manifest_is_written_where_collect_may_write_and_served_uncached() -> None:
    key = manifest_key(REQUEST_ID)
    assert key == f"requests/{REQUEST_ID}.json"
    assert key.startswith(REQUESTS_PREFIX)  # Collect's PutObject grant and the manifests' expiry
    behavior = behavior_for(f"/{key}")
    assert behavior.origin == Origin.OBJECTS and not behavior.cached  # polled until it exists


def test_prepare_writes_a_refused_runs_manifest_where_collect_writes_the_others(lambda_env: dict[str, str]) -> None:
    import prepare

    assert prepare.manifest_key(REQUEST_ID) == manifest_key(REQUEST_ID)


def test_the_three_folders_key_a_users_items_alike() -> None:
    """Prepare's quota days, Collect's run history and the history function's query share a partition."""
    import quota
    import run_history
    import run_page

    assert quota.user_key("u-1") == run_history.user_key("u-1") == run_page.user_key("u-1") == "USER#u-1"
