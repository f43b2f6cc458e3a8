"""The processor handler against moto: partial failures, quarantine, idempotency, retries, alerts, queries."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from services.iot_processor.contract import ANOMALY_PARTITION
from services.iot_processor.runtime.table import ReadingsTable
from services.iot_processor.tests.harness import BUCKET, NOW, TABLE, Aws, alerts, invoke, items, objects, reading
from shared.synthetic.kinesis_events import kinesis_event

EVENTS = Path(__file__).parent / "events"


def test_event_file_batch_is_settled_without_failures(aws: Aws) -> None:
    event = json.loads((EVENTS / "kinesis_duplicate_and_poison.json").read_text())
    assert invoke(event) == {"batchItemFailures": []}
    assert len(items(aws)) == 1  # the file holds one reading twice (a producer retry) and a poison record
    assert len(objects(aws, "quarantine/")) == 1


def test_mixed_batch_stores_flags_quarantines_and_alerts(aws: Aws) -> None:
    response = invoke(
        kinesis_event(
            [
                reading(),
                reading(sensor_id="boiler-2", value=130),
                b"{broken",
                reading(sensor_type="humidity", value=140),
            ]
        )
    )
    assert response == {"batchItemFailures": []}
    stored = {item["sensor_id"]["S"]: item for item in items(aws)}
    assert set(stored) == {"boiler-1", "boiler-2"}
    assert stored["boiler-1"]["anomaly"] == {"BOOL": False}
    assert stored["boiler-2"]["anomaly"] == {"BOOL": True}
    assert stored["boiler-2"]["severity"] == {"S": "critical"}
    assert ANOMALY_PARTITION not in stored["boiler-1"]  # sparse index: normal readings stay out of it

    quarantined = [
        json.loads(aws.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()) for key in objects(aws, "quarantine/")
    ]
    assert sorted(document["reason"] for document in quarantined) == ["not_json", "out_of_range"]
    assert all(document["data_base64"] and document["detail"] for document in quarantined)

    (processed,) = objects(aws, "processed/")
    lines = gzip.decompress(aws.s3.get_object(Bucket=BUCKET, Key=processed)["Body"].read()).decode().splitlines()
    assert len(lines) == 2

    (alert,) = alerts(aws)
    assert json.loads(alert["Body"])["sensor_id"] == "boiler-2"
    assert alert["MessageAttributes"]["sensor_type"]["StringValue"] == "temperature"
    assert alert["MessageAttributes"]["severity"]["StringValue"] == "critical"


def test_duplicates_and_retries_stay_single(aws: Aws) -> None:
    anomaly = reading(value=120, reading_id="r-1")
    event = kinesis_event([anomaly, anomaly, reading()])
    assert invoke(event) == {"batchItemFailures": []}
    assert invoke(event) == {"batchItemFailures": []}  # the stream retrying the same batch
    assert invoke(kinesis_event([anomaly], first_sequence=5000)) == {"batchItemFailures": []}  # producer resend
    assert len(items(aws)) == 2
    assert len(objects(aws, "processed/")) == 2  # the retried batch overwrote its object; the resend is its own batch
    assert len(alerts(aws)) == 3  # one per invocation: deduplicated within each batch


def test_two_readings_of_one_sensor_at_the_same_instant_both_survive(aws: Aws) -> None:
    assert invoke(kinesis_event([reading(value=20), reading(value=21)])) == {"batchItemFailures": []}
    assert len(items(aws)) == 2


class ThrottlingDynamoDB:
    """Wraps the moto client: the first ``throttled_calls`` BatchWriteItem calls process nothing."""

    def __init__(self, client: Any, throttled_calls: int) -> None:
        self._client = client
        self.remaining = throttled_calls
        self.calls = 0

    def batch_write_item(self, **kwargs: Any) -> dict[str, Any]:
        self.calls += 1
        if self.remaining > 0:
            self.remaining -= 1
            return {"UnprocessedItems": kwargs["RequestItems"]}
        return dict(self._client.batch_write_item(**kwargs))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def test_throttled_writes_are_retried_until_stored(aws: Aws, use_clients: Callable[..., None]) -> None:
    throttled = ThrottlingDynamoDB(aws.dynamodb, throttled_calls=3)
    use_clients(dynamodb=throttled)
    assert invoke(kinesis_event([reading(sensor_id=f"s-{i}") for i in range(30)])) == {"batchItemFailures": []}
    assert len(items(aws)) == 30
    assert throttled.calls == 2 + 3  # two chunks of at most 25, three throttled attempts on the first


def test_latest_readings_of_one_sensor_newest_first(aws: Aws) -> None:
    payloads = [reading(value=20 + i, timestamp=(NOW - timedelta(minutes=i)).isoformat()) for i in range(5)]
    invoke(kinesis_event(payloads))
    latest = ReadingsTable(client=aws.dynamodb, table_name=TABLE).latest("boiler-1", limit=3)
    assert [float(item["value"]) for item in latest] == [20, 21, 22]


def test_anomalies_by_type_and_time_window_across_index_shards(aws: Aws) -> None:
    payloads = [
        reading(sensor_id=f"s-{i}", value=110 + i, timestamp=(NOW - timedelta(minutes=i)).isoformat())
        for i in range(12)
    ] + [reading(sensor_id="p-1", sensor_type="pressure", value=160), reading(sensor_id="n-1", value=20)]
    invoke(kinesis_event(payloads))
    table = ReadingsTable(client=aws.dynamodb, table_name=TABLE)
    window = table.anomalies(
        "temperature", NOW - timedelta(minutes=5, seconds=30), NOW + timedelta(seconds=1), shards=4
    )
    assert [item["sensor_id"] for item in window] == [f"s-{i}" for i in range(5, -1, -1)]
    partitions = {
        item[ANOMALY_PARTITION]
        for item in table.anomalies("temperature", NOW - timedelta(hours=1), NOW + timedelta(seconds=1), shards=4)
    }
    assert len(partitions) > 1  # one type's anomalies spread over several index partitions
