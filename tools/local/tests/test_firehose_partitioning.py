"""The archive's partition query (its contract), run as Firehose runs it: by the local Firehose's jq evaluation."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime

import jq
import pytest

from services.iot_archive import contract as archive
from tools.local.firehose import PartitioningError, partition_values


def partitions(query: str, record: bytes) -> dict[str, str]:
    """What Firehose does with the MetadataExtraction query (the local Firehose's implementation)."""
    return partition_values(jq.compile(query), record)


def fill(prefix: str, values: Mapping[str, str]) -> str:
    return re.sub(r"!\{partitionKeyFromQuery:(\w+)\}", lambda match: values[match.group(1)], prefix)


@pytest.fixture(scope="module")
def query() -> str:
    return archive.PARTITION_QUERY


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        ("2026-11-27T15:20:00.123+01:00", ("2026", "11", "27", "14")),
        ("2026-11-27T23:30:00-05:00", ("2026", "11", "28", "04")),
        ("2026-11-27T13:05:00.5+00:00", ("2026", "11", "27", "13")),
    ],
)
def test_iso_timestamps_with_an_offset_partition_in_utc(query: str, timestamp: str, expected: tuple[str, ...]) -> None:
    record = json.dumps({"sensor_id": "boiler-1", "value": 21.5, "timestamp": timestamp}).encode()
    assert partitions(query, record) == dict(zip(("year", "month", "day", "hour"), expected, strict=True))


def test_iso_timestamps_partition_by_their_calendar_fields(query: str) -> None:
    record = json.dumps({"sensor_id": "boiler-1", "value": 21.5, "timestamp": "2026-11-27T13:05:00Z"}).encode()
    assert partitions(query, record) == {"year": "2026", "month": "11", "day": "27", "hour": "13"}
    with_millis = json.dumps({"sensor_id": "boiler-1", "timestamp": "2026-01-02T03:59:59.999Z"}).encode()
    assert partitions(query, with_millis) == {"year": "2026", "month": "01", "day": "02", "hour": "03"}


def test_epoch_millisecond_timestamps_partition_in_utc(query: str) -> None:
    record = json.dumps({"sensor_id": "pump-7", "value": 1.25, "timestamp": 1795163400250}).encode()
    utc = datetime.fromtimestamp(1795163400250 / 1000, tz=UTC)
    assert partitions(query, record) == {"year": "2026", "month": "11", "day": "20", "hour": "08"}
    assert partitions(query, record) == {
        "year": f"{utc:%Y}",
        "month": f"{utc:%m}",
        "day": f"{utc:%d}",
        "hour": f"{utc:%H}",
    }


@pytest.mark.parametrize(
    "record",
    [
        b'{"sensor_id": "boiler-1", "value": 21.5}',  # no timestamp
        b'{"sensor_id": "boiler-1", "value": 21.5, "timestamp": null}',
        b'{"sensor_id": "boiler-1", "value": ',  # not JSON
        b'{"sensor_id": "boiler-1", "value": 21.5, "timestamp": "yesterday"}',
    ],
)
def test_records_without_a_usable_timestamp_fail_partitioning(query: str, record: bytes) -> None:
    with pytest.raises(PartitioningError):
        partitions(query, record)


def test_query_yields_exactly_the_keys_the_prefix_uses(query: str) -> None:
    record = json.dumps({"timestamp": "2026-11-27T13:05:00Z"}).encode()
    values = partitions(query, record)
    assert tuple(values) == archive.PARTITION_KEYS
    assert tuple(re.findall(r"!\{partitionKeyFromQuery:(\w+)\}", archive.PARTITIONED_PREFIX)) == archive.PARTITION_KEYS


def test_partition_prefix_names_the_partitions_firehose_writes(query: str) -> None:
    """Replay and the smoke test list partitions by ``partition_prefix``; Firehose fills PARTITIONED_PREFIX."""
    hour = datetime(2026, 11, 27, 13, tzinfo=UTC)
    for timestamp in ("2026-11-27T13:05:00Z", int(hour.timestamp() * 1000) + 1):
        values = partitions(query, json.dumps({"timestamp": timestamp}).encode())
        assert fill(archive.PARTITIONED_PREFIX, values) == archive.partition_prefix(hour)
