"""bench/cost.py's arithmetic (known inputs -> known outputs) and its price table's provenance."""

from __future__ import annotations

import json
import re

import pytest

from bench import cost

PRICES = {
    "lambda.arm64.request": 0.2e-6,
    "lambda.arm64.gb_second": 0.0000133334,
    "stepfunctions.express.request": 1e-6,
    "stepfunctions.express.gb_second": 0.06 / 3600,
    "s3.put.request": 0.005 / 1000,
    "s3.get.request": 0.0004 / 1000,
    "cloudfront.transfer_out.gb": 0.085,
    "dynamodb.ondemand.write_request_unit": 0.625e-6,
}


def assumptions(**changes: object) -> cost.Assumptions:
    values: dict[str, object] = {
        "endpoints": 2,
        "instances": 1,
        "instance_type": "ml.g5.xlarge",
        "images_per_request": 4,
        "images_per_day": 1000,
        "idle_minutes": 15.0,
        "cold_start_minutes": 5.0,
        "sessions_per_day": 4,
        "retention_days": 30,
    }
    values.update(changes)
    return cost.Assumptions(**values)  # type: ignore[arg-type]


def test_every_price_has_a_source_a_date_and_an_authority() -> None:
    table = json.loads(cost.PRICES.read_text())
    assert table["prices"]
    for key, entry in table["prices"].items():
        assert re.fullmatch(r"https?://\S+", entry["source"]), key
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", entry["date"]), key
        assert entry["authority"] in {"aws", "third-party"}, key
        assert isinstance(entry["value"], int | float) and entry["value"] > 0, key


def test_the_price_table_holds_every_price_the_arithmetic_reads() -> None:
    prices = cost.load_prices()
    assert set(PRICES) <= set(prices)
    assert "s3.standard.gb_month" in prices
    # A price that was not found stays out rather than guessed.
    assert not set(json.loads(cost.PRICES.read_text())["not_found"]) & set(prices)


def test_gpu_cost_per_image_is_the_seconds_at_the_hourly_price_per_gpu() -> None:
    assert cost.gpu_cost_per_image(3.6, 1.0, 1) == pytest.approx(0.001)
    assert cost.gpu_cost_per_image(3.6, 8.0, 8) == pytest.approx(0.001)


def test_lambda_bills_the_request_and_gb_seconds_rounded_up_to_a_millisecond() -> None:
    # 1.0004 s bills as 1.001 s; 512 MB = 0.5 GB.
    expected = 0.2e-6 + 1.001 * 0.5 * 0.0000133334
    assert cost.lambda_cost(1.0004, 512, PRICES) == pytest.approx(expected)


def test_express_bills_100_ms_steps_and_64_mb_chunks() -> None:
    # 1.01 s bills as 1.1 s; 50 MB bills as 64 MB; 65 MB as 128 MB.
    assert cost.express_cost(1.01, 50, PRICES) == pytest.approx(1e-6 + 1.1 * 0.0625 * 0.06 / 3600)
    assert cost.express_cost(1.0, 65, PRICES) == pytest.approx(1e-6 + 1.0 * 0.125 * 0.06 / 3600)


def test_shares_spread_a_request_as_prepare_does() -> None:
    assert cost.shares(4, 2) == [2, 2]
    assert cost.shares(5, 2) == [3, 2]
    assert cost.shares(1, 4) == [1]


def test_serverless_parts_of_one_request() -> None:
    parts = cost.serverless_cost_per_request(2.0, assumptions(), PRICES)
    # Express: the slowest endpoint's 2 images (4 s) plus 0.5 s, at 64 MB.
    assert parts["Step Functions Express"] == pytest.approx(1e-6 + 4.5 * 0.0625 * 0.06 / 3600)
    # Two Invoke calls of 2 images each, 4.05 s at 512 MB.
    assert parts["Lambda Invoke (2 calls)"] == pytest.approx(2 * (0.2e-6 + 4.05 * 0.5 * 0.0000133334))
    assert parts["S3 PUT (images + manifest)"] == pytest.approx(5 * 0.005 / 1000)
    assert parts["CloudFront transfer out"] == pytest.approx((4 * 60 + 2) / 1024 / 1024 * 0.085)
    assert parts["DynamoDB writes"] == pytest.approx(2 * 0.625e-6)


def test_per_thousand_images_scales_a_request_by_its_images() -> None:
    assert cost.per_thousand_images(0.004, 4) == pytest.approx(1.0)


def test_idle_cost_counts_every_instance_of_every_endpoint() -> None:
    assert cost.idle_cost_per_hour(2, 3, 1.5) == pytest.approx(9.0)


def test_storage_cost_per_hour_of_the_retained_images() -> None:
    # 1,024 images a day for 1,024 days of 1 KB = 1 GB at $0.73 a GB-month = $0.001 an hour.
    assert cost.storage_cost_per_hour(1024, 1024, 1.0, 0.73) == pytest.approx(0.001)


def test_busy_hours_spread_over_endpoints_and_gpus() -> None:
    assert cost.busy_hours_per_day(3600, 2.0, 2) == pytest.approx(1.0)
    assert cost.busy_hours_per_day(3600, 2.0, 2, gpus_per_instance=2) == pytest.approx(0.5)


def test_scale_to_zero_bills_use_plus_a_cold_start_and_idle_tail_per_session_at_most_a_day() -> None:
    assert cost.scale_to_zero_billed_hours(1.0, 3, 5, 15) == pytest.approx(2.0)
    assert cost.scale_to_zero_billed_hours(23.0, 6, 5, 15) == 24.0


def test_break_even_hours_of_use() -> None:
    assert cost.break_even_use_hours(3, 5, 15) == pytest.approx(23.0)
    assert cost.break_even_use_hours(72, 5, 15) == 0.0
    assert cost.break_even_use_hours(100, 5, 15) == 0.0


def test_report_leaves_a_price_not_found_out_of_the_totals() -> None:
    prices = {**PRICES, "s3.standard.gb_month": 0.023}  # no instance price at all
    table = {"region": "us-east-1", "currency": "USD", "prices": {}}
    text = cost.report(assumptions(), prices, table)
    assert "| T4 | ml.g4dn.xlarge | 7.4 | not found | — |" in text
    assert "ml.g5.xlarge: price not found" in text
