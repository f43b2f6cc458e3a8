"""End to end on the embedded emulator, with faults: every reading is accounted for exactly once.

The stage's real templates are deployed into moto's server; the processor runs from the deployed code behind
the local event source mapping, with faults injected into its AWS calls: a DynamoDB throttling burst, a crash
in the middle of a batch, a poison record, and a producer that sends readings twice.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from services.iot_processor.contract import ALIAS_NAME, Metric
from shared.synthetic.readings import SyntheticRecord, synthetic_records
from tools.local.run import LocalPlatform, RunResult, local_platform

# Generous, as the first test pays for deploying the stage and settling every reading (~1 min here), yet a settle or
# retry loop that never ends fails within minutes, with every thread's stack.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]
POISON = "poison-e2e"
PRIMARY = {"table", "quarantine", "failure destination"}


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPlatform]:
    faults = {"throttle_batch_writes": 8, "crash_mid_batch_on_invocations": [2], "poison_marker": POISON}
    log = tmp_path_factory.mktemp("e2e") / "processor.log"
    with local_platform(log_path=log, faults=faults, assembly_dir=tmp_path_factory.mktemp("cdk.out")) as running:
        yield running


@pytest.fixture(scope="module")
def workload() -> list[SyntheticRecord]:
    run_id = f"e2e-{uuid.uuid4().hex[:8]}"
    records = synthetic_records(600, run_id=run_id, now=datetime.now(UTC), anomaly_share=0.05, invalid_share=0.05)
    poison_source = next(record for record in records if record.reading_id and not record.anomaly)
    document = json.loads(poison_source.data)
    document.update(reading_id=f"{run_id}-poison", sensor_id=f"{POISON}-1")
    poison = replace(
        poison_source,
        data=json.dumps(document).encode(),
        reading_id=document["reading_id"],
        sensor_id=document["sensor_id"],
        partition_key=document["sensor_id"],
    )
    duplicates = [record for record in records if record.reading_id][:5]  # a producer resending five readings
    return [*records, poison, *duplicates]


@pytest.fixture(scope="module")
def result(platform: LocalPlatform, workload: list[SyntheticRecord]) -> RunResult:
    return platform.run(workload, progress=False)


def test_the_mapping_invokes_the_processor_through_its_live_alias(platform: LocalPlatform) -> None:
    settings = platform.mapping.settings
    assert settings.alias_name == ALIAS_NAME
    alias = boto3.client("lambda").get_alias(FunctionName=settings.function_name, Name=ALIAS_NAME)
    assert platform.function.version == alias["FunctionVersion"] != "$LATEST"


@pytest.fixture(scope="module")
def kpl_result(platform: LocalPlatform, result: RunResult) -> RunResult:
    """A second round on the same platform, after the first: readings aggregated as the KPL aggregates them."""
    run_id = f"e2e-kpl-{uuid.uuid4().hex[:8]}"
    records = synthetic_records(400, run_id=run_id, now=datetime.now(UTC), anomaly_share=0.05, invalid_share=0.05)
    return platform.run(records, progress=False, producer="kpl")


@pytest.mark.parametrize("round_name", ["result", "kpl_result"])
def test_every_record_lands_in_exactly_one_primary_place_and_in_the_archive(
    round_name: str, request: pytest.FixtureRequest
) -> None:
    result: RunResult = request.getfixturevalue(round_name)
    assert result.ok, result.summary
    for index, sent in enumerate(result.sent):
        places = result.landing.places.get(index, set())
        assert len(places & PRIMARY) == 1, (sent.record.reading_id, places)
        assert "archive" in places, (sent.record.reading_id, places)


def test_kpl_aggregates_of_many_readings_store_each_reading_and_quarantine_each_invalid_one(
    kpl_result: RunResult, platform: LocalPlatform
) -> None:
    aggregates = {s.sequence_number for s in kpl_result.sent}
    assert 1 < len(aggregates) < len(kpl_result.sent) / 50  # a few aggregates of many readings each
    valid = {s.record.reading_id for s in kpl_result.sent if not s.record.invalid_reason}
    stored = {item["reading_id"]["S"] for item in _scan(platform.targets.table_name)}
    assert valid <= stored
    invalid = [s for s in kpl_result.sent if s.record.invalid_reason]
    assert invalid
    assert sum(kpl_result.landing.quarantine_reasons.values()) == len(invalid)
    assert kpl_result.landing.problems == {}


def test_the_poison_record_went_to_the_failure_destination_alone(result: RunResult) -> None:
    in_failure = [
        s.record.sensor_id
        for i, s in enumerate(result.sent)
        if "failure destination" in result.landing.places.get(i, set())
    ]
    assert in_failure == [f"{POISON}-1"]


def test_duplicates_and_retries_leave_one_item_per_reading(result: RunResult, platform: LocalPlatform) -> None:
    expected = {s.record.reading_id for s in result.sent if s.record.reading_id and POISON not in s.record.sensor_id}
    stored = Counter(item["reading_id"]["S"] for item in _scan(platform.targets.table_name))
    run_items = {reading_id: count for reading_id, count in stored.items() if reading_id in expected}
    assert set(run_items) == expected
    assert set(run_items.values()) == {1}


def test_every_invalid_record_is_quarantined_once_with_its_reason(result: RunResult) -> None:
    invalid = [s for s in result.sent if s.record.invalid_reason]
    assert invalid
    assert sum(result.landing.quarantine_reasons.values()) == len(invalid)
    assert result.landing.problems == {}


def test_the_faults_really_happened(platform: LocalPlatform) -> None:
    stats = platform.mapping.stats
    assert stats.function_errors >= 2  # the mid-batch crash and the poison record's attempts
    assert stats.bisections >= 1
    # The eight injected throttles were retried within their invocations, which had the time (ADR 0013).
    assert platform.metric_total(Metric.WRITES_THROTTLED) >= 8
    assert stats.batches_to_failure_destination == 1


def _scan(table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for page in boto3.client("dynamodb").get_paginator("scan").paginate(TableName=table):
        items.extend(page["Items"])
    return items


def test_every_stored_anomaly_was_alerted(result: RunResult) -> None:
    anomalies = [i for i, s in enumerate(result.sent) if s.record.anomaly]
    assert anomalies
    assert all("alert" in result.landing.places.get(i, set()) for i in anomalies)
