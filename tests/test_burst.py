"""A burst above a provisioned table's capacity, end to end on the embedded emulator: throttling drives the
processor's retries and every reading still lands (ADR 0013).

The local stage's table is provisioned with 100 WCU, and the emulator throttles it as DynamoDB would (five minutes of
unused capacity kept for bursts, from the table's creation). 4,000 readings are put at once: far more than what the
table banked while the stage deployed (100 units a second since its creation), so writes are throttled and
retried before they land.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import boto3
import pytest

from services.iot_processor.contract import Metric
from shared.synthetic.readings import synthetic_records
from tools.local.run import LocalPlatform, RunResult, local_platform

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]
WRITE_UNITS = 100
READINGS = 4_000
CAPACITY = {"minUnits": WRITE_UNITS, "maxUnits": WRITE_UNITS, "targetUtilizationPercent": 70}
PROVISIONED = {
    "iot.stages.dev.ingest.tableCapacity": json.dumps({"writes": CAPACITY, "indexWrites": CAPACITY, "reads": CAPACITY})
}


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPlatform]:
    assembly = tmp_path_factory.mktemp("cdk.out")
    log = tmp_path_factory.mktemp("burst") / "processor.log"
    with local_platform(log_path=log, assembly_dir=assembly, overrides=PROVISIONED) as running:
        yield running


@pytest.fixture(scope="module")
def result(platform: LocalPlatform) -> RunResult:
    run_id = f"burst-{uuid.uuid4().hex[:8]}"
    records = synthetic_records(READINGS, run_id=run_id, now=datetime.now(UTC), anomaly_share=0.01, invalid_share=0)
    return platform.run(records, progress=False)


def test_the_local_table_is_provisioned_below_the_burst(platform: LocalPlatform) -> None:
    table = boto3.client("dynamodb").describe_table(TableName=platform.targets.table_name)["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PROVISIONED"
    assert table["ProvisionedThroughput"]["WriteCapacityUnits"] == WRITE_UNITS


def test_the_burst_was_throttled_and_every_reading_still_landed(result: RunResult, platform: LocalPlatform) -> None:
    assert result.ok, result.summary
    throttled = int(platform.metric_total(Metric.WRITES_THROTTLED))
    # Above what the table banked and could take: writes were throttled, then retried until they landed.
    assert throttled > 0, "the burst fit the table's banked capacity: nothing was throttled"
    for index, sent in enumerate(result.sent):
        assert "table" in result.landing.places.get(index, set()), sent.record.reading_id
    print(
        f"burst: {READINGS} readings put in {result.put_seconds:.1f} s against {WRITE_UNITS} WCU; {throttled} "
        f"throttled writes retried; every reading stored; settled {result.settle_seconds:.1f} s after the first put"
    )


def test_no_reading_waited_in_the_failure_destination(platform: LocalPlatform) -> None:
    stats = platform.mapping.stats
    assert stats.batches_to_failure_destination == 0
    assert stats.function_errors == 0
