"""The EventBridge rules (infra + local stack) and the Prepare function agree on the shapes."""

from __future__ import annotations

import sources
from text2image import event_patterns


def test_the_rules_and_prepare_name_the_same_sources() -> None:
    assert sources.PROMPTS_PREFIX == event_patterns.PROMPTS_PREFIX
    assert sources.CUSTOM_SOURCE == event_patterns.CUSTOM_SOURCE
    assert sources.CUSTOM_DETAIL_TYPE == event_patterns.CUSTOM_DETAIL_TYPE
    pattern = event_patterns.prompt_file_pattern("bkt")
    assert pattern["detail"]["object"]["key"] == [{"wildcard": f"{sources.PROMPTS_PREFIX}*.json"}]
    assert event_patterns.custom_event_pattern() == {"source": [sources.CUSTOM_SOURCE], "detail-type": [sources.CUSTOM_DETAIL_TYPE]}
