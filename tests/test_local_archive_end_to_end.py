"""End to end on the embedded emulator: a fleet of device profiles, and the raw archive it leaves queried on disk.

One fleet run (every profile, some invalid records) through the deployed stage, then:
- the flushing devices' hours-old readings are archived in the partitions of their own event time and stored;
- the anomalies are the drifting devices' readings past the bound, each stored as one and alerted;
- make query's DuckDB over the run's archive copy counts, hour by hour, what the run itself sent there;
- the archive README's Athena queries run, translated by sqlglot, over the deployed archive template's table.
"""

from __future__ import annotations

import gzip
import re
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from services.iot_archive import contract as archive_contract
from services.iot_processor.contract import ANOMALY_FLAG
from shared.repository import REPO_ROOT
from shared.synthetic.fleets import DEFAULT_MIX, FleetMix, Profile, fleet_records, profile_of
from tools.landing.locate import archive_partition
from tools.local.archive_copy import copy_archive
from tools.local.run import LocalPlatform, RunResult, local_platform
from tools.operations.query import GlueTable, run_query

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]
README = REPO_ROOT / "services" / "iot_archive" / "README.md"
RUN_ID = f"e2e-fleet-{uuid.uuid4().hex[:8]}"
PER_HOUR = "SELECT year, month, day, hour, count(*) AS records FROM readings GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4"


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPlatform]:
    log = tmp_path_factory.mktemp("e2e") / "processor.log"
    with local_platform(log_path=log, assembly_dir=tmp_path_factory.mktemp("cdk.out")) as running:
        yield running


@pytest.fixture(scope="module")
def result(platform: LocalPlatform) -> RunResult:
    records = fleet_records(
        600, mix=FleetMix.parse(DEFAULT_MIX), run_id=RUN_ID, now=datetime.now(UTC), seed=11, invalid_share=0.02
    )
    return platform.run(records, progress=False)


@pytest.fixture(scope="module")
def items(platform: LocalPlatform, result: RunResult) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for page in boto3.client("dynamodb").get_paginator("scan").paginate(TableName=platform.targets.table_name):
        found.update({item["reading_id"]["S"]: item for item in page["Items"]})
    return found


@pytest.fixture(scope="module")
def archive_copy(platform: LocalPlatform, result: RunResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("copy") / "local-archive"
    stack = platform.deployed.stacks[archive_contract.SERVICE]
    assert copy_archive(boto3.client("s3"), platform.targets.require_archive(), stack, target) > 0
    return target


@pytest.fixture(scope="module")
def table(platform: LocalPlatform) -> GlueTable:
    return GlueTable.from_template(platform.deployed.stacks[archive_contract.SERVICE].template)


def test_every_record_of_the_fleet_landed_where_it_should(result: RunResult) -> None:
    assert result.ok, result.summary
    assert {profile_of(sent.record) for sent in result.sent} == set(Profile)


def test_late_readings_land_in_the_partitions_of_their_own_event_time_and_are_stored(
    result: RunResult, items: dict[str, dict[str, Any]]
) -> None:
    flushed = [
        (i, s) for i, s in enumerate(result.sent) if profile_of(s.record) is Profile.FLUSH and s.record.reading_id
    ]
    assert flushed
    first_live_hour = min(
        archive_partition(s.record.data) or ""
        for s in result.sent
        if profile_of(s.record) is Profile.STEADY and s.record.reading_id
    )
    for index, sent in flushed:
        partition = archive_partition(sent.record.data)
        assert partition is not None
        assert partition < first_live_hour  # hours old (FLUSH_OFFLINE): not the partition of the hour they arrived
        assert "archive" in result.landing.places[index]  # found in that partition and nowhere else was searched
        assert sent.record.reading_id in items


def test_the_anomalies_are_the_drifting_devices_readings_past_the_bound_each_stored_and_alerted(
    result: RunResult, items: dict[str, dict[str, Any]], platform: LocalPlatform
) -> None:
    expected = {s.record.reading_id for s in result.sent if s.record.anomaly}
    assert expected
    assert {profile_of(s.record) for s in result.sent if s.record.anomaly} == {Profile.DRIFT}
    run_items = {reading_id: item for reading_id, item in items.items() if reading_id.startswith(RUN_ID)}
    flagged = {reading_id for reading_id, item in run_items.items() if item[ANOMALY_FLAG]["BOOL"]}
    assert flagged == expected
    assert platform.checks.alerts is not None
    alerted = {reading_id for reading_id in platform.checks.alerts.reading_ids if reading_id.startswith(RUN_ID)}
    assert alerted == expected


def test_make_querys_counts_per_hour_equal_what_the_run_sent_to_each_partition(
    result: RunResult, archive_copy: Path, table: GlueTable
) -> None:
    sent_per_hour = Counter(archive_partition(s.record.data) for s in result.sent)
    del sent_per_hour[None]  # no partition: under the error prefix, not in the table
    assert len(sent_per_hour) >= 2  # the flushed hours and the live ones
    counted = run_query(PER_HOUR, archive=archive_copy, table=table)
    assert {_partition(*row[:4]): row[4] for row in counted.rows} == (dict(sent_per_hour))


def readme_queries() -> list[str]:
    section = README.read_text(encoding="utf-8").split("## Queries (Athena)")[1].split("\n## ")[0]
    return re.findall(r"```sql\n(.*?)```", section, flags=re.DOTALL)


# Readings in the README's examples' hours, each line as a producer sent it, under Firehose's partitions.
README_LINES = [
    b'{"sensor_id": "boiler-1", "sensor_type": "temperature", "value": 61.5, "unit": "C", '
    b'"timestamp": "2026-11-27T13:10:00Z", "reading_id": "b1-1"}',  # before the window
    b'{"sensor_id": "boiler-1", "sensor_type": "temperature", "value": 62, "unit": "C", '
    b'"timestamp": "2026-11-27T13:20:00Z", "reading_id": "b1-2"}',
    b'{"sensor_id": "boiler-1", "sensor_type": "temperature", "value": 63.25, "unit": "C", '
    b'"timestamp": 1795788000000, "reading_id": "b1-3"}',  # 14:00Z in epoch milliseconds
    b'{"sensor_id": "boiler-1", "sensor_type": "temperature", "value": "hot", "timestamp": "2026-11-27T14:30:00Z"}',
    b'{"sensor_id": "boiler-1", "sensor_type": "temperature", "value": 64, "unit": "C", '
    b'"timestamp": "2026-11-27T14:50:00Z", "reading_id": "b1-4"}',  # after the window
    b'{"sensor_id": "boiler-2", "sensor_type": "pressure", "value": 101, "timestamp": "2026-11-27T13:30:00Z", '
    b'"reading_id": "b2-1"}',
    b'{"sensor_id": "boiler-1", "sensor_type": "temperature", "value": 20, "timestamp": "2026-11-27T13:40:00Z", '
    b'"reading_id": "smoke-1", "synthetic_run": "smoke-test-1"}',
]


def write_readme_archive(root: Path) -> Path:
    by_partition: dict[str, list[bytes]] = {}
    for line in README_LINES:
        by_partition.setdefault(archive_partition(line) or "", []).append(line)
    for partition, lines in by_partition.items():
        (root / partition).mkdir(parents=True)
        (root / partition / "local-firehose-1.gz").write_bytes(gzip.compress(b"\n".join(lines) + b"\n"))
    return root


def test_the_archive_readmes_athena_queries_run_on_the_deployed_table(table: GlueTable, tmp_path: Path) -> None:
    window, per_hour = readme_queries()
    archive = write_readme_archive(tmp_path / "readme-archive")
    in_window = run_query(window, archive=archive, table=table)
    assert in_window.columns == ["sensor_id", "sensor_type", "value", "unit", "timestamp", "reading_id"]
    assert in_window.rows == [
        ("boiler-1", "temperature", 63.25, "C", "1795788000000", "b1-3"),
        ("boiler-1", "temperature", 62.0, "C", "2026-11-27T13:20:00Z", "b1-2"),
        ("boiler-1", "temperature", 20.0, None, "2026-11-27T13:40:00Z", "smoke-1"),
        ("boiler-1", "temperature", None, None, "2026-11-27T14:30:00Z", None),  # "hot" is no double
    ]
    counted = run_query(per_hour, archive=archive, table=table)
    assert counted.columns == ["year", "month", "day", "hour", "records", "readings_with_an_id"]
    assert counted.rows == [(2026, 11, 27, 13, 3, 3), (2026, 11, 27, 14, 3, 2)]


def _partition(year: int, month: int, day: int, hour: int) -> str:
    return archive_contract.partition_prefix(datetime(year, month, day, hour, tzinfo=UTC))
