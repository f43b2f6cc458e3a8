"""The processor's S3 objects, without AWS: quarantine documents, processed output, and their keys."""

from __future__ import annotations

import base64
import gzip
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

from services.iot_processor.contract import StreamPosition
from services.iot_processor.runtime.objects import ProcessedBucket
from services.iot_processor.runtime.table import StoredReading
from shared.readings.anomalies import Severity
from shared.readings.schema import InvalidReadingError, Reading, Reason

ARRIVAL = datetime(2026, 11, 27, 23, 59, 59, 500_000, tzinfo=UTC)


class RecordingS3:
    def __init__(self) -> None:
        self.puts: list[dict[str, Any]] = []

    def put_object(self, **request: Any) -> dict[str, Any]:
        self.puts.append(request)
        return {}


def position(sequence_number: str, *, arrival: datetime = ARRIVAL) -> StreamPosition:
    return StreamPosition(
        shard_id="shardId-000000000007", sequence_number=sequence_number, partition_key="pk-1", arrival=arrival
    )


def stored(sensor_id: str, severity: Severity | None = None) -> StoredReading:
    reading = Reading(
        sensor_id=sensor_id,
        sensor_type="temperature",
        value=Decimal("101.25"),
        timestamp=datetime(2026, 11, 27, 12, tzinfo=UTC),
        reading_id=f"r-{sensor_id}",
        unit="C",
    )
    return StoredReading(reading=reading, severity=severity)


def test_a_quarantined_record_keeps_its_bytes_reason_detail_and_position(local_time_zone: str) -> None:
    client = RecordingS3()
    bucket = ProcessedBucket(client=cast(Any, client), bucket="processed")
    bucket.quarantine(position("42"), b"\xff{raw", InvalidReadingError(Reason.NOT_UTF8, "byte 0 is not UTF-8"))
    (put,) = client.puts
    assert put["Bucket"] == "processed"
    assert put["Key"] == "quarantine/2026/11/27/shardId-000000000007/42.json"
    assert (put["ContentType"], put["Metadata"]) == ("application/json", {"reason": "not_utf8"})
    assert json.loads(put["Body"]) == {
        "reason": "not_utf8",
        "detail": "byte 0 is not UTF-8",
        "shard_id": "shardId-000000000007",
        "sequence_number": "42",
        "partition_key": "pk-1",
        "arrival": "2026-11-27T23:59:59.500000+00:00",
        "data_base64": base64.b64encode(b"\xff{raw").decode(),
        "sub_record": None,
    }


def test_processed_output_is_one_gzip_object_per_batch_named_by_its_first_and_last_record() -> None:
    client = RecordingS3()
    bucket = ProcessedBucket(client=cast(Any, client), bucket="processed")
    later = ARRIVAL + timedelta(hours=1)
    key = bucket.write_processed(
        [
            (position("100"), stored("s-1")),
            (position("101"), stored("s-2", Severity.WARNING)),
            (position("102", arrival=later), stored("s-3")),
        ]
    )
    (put,) = client.puts
    assert key == put["Key"] == "processed/2026/11/27/23/shardId-000000000007/100-102.jsonl.gz"
    assert (put["ContentType"], put["ContentEncoding"]) == ("application/x-ndjson", "gzip")
    text = gzip.decompress(put["Body"]).decode()
    assert text.endswith("}\n")
    assert text.startswith('{"schema_version": 1, "reading_id": "r-s-1", "sensor_id": "s-1",')  # a fixed order
    lines = [json.loads(line) for line in text.splitlines()]
    assert lines[1] == {
        "schema_version": 1,
        "reading_id": "r-s-2",
        "sensor_id": "s-2",
        "sensor_type": "temperature",
        "value": "101.25",
        "timestamp": "2026-11-27T12:00:00.000Z",
        "unit": "C",
        "anomaly": True,
        "severity": "warning",
        "shard_id": "shardId-000000000007",
        "sequence_number": "101",
        "sub_record": None,
    }
    assert [(line["anomaly"], line["severity"]) for line in lines] == [(False, None), (True, "warning"), (False, None)]


def test_a_retried_batch_writes_the_same_bytes_under_the_same_key() -> None:
    client = RecordingS3()
    bucket = ProcessedBucket(client=cast(Any, client), bucket="processed")
    batch = [(position("100"), stored("s-1")), (position("101"), stored("s-2"))]
    bucket.write_processed(batch)
    bucket.write_processed(batch)
    first, retry = client.puts
    assert (first["Key"], first["Body"]) == (retry["Key"], retry["Body"])
    assert first["Body"][4:8] == bytes(4)  # no modification time in the gzip header: a later retry is identical too
