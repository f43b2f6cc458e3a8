"""The handler on moto with KPL-aggregated records: each reading inside goes through the contract of a plain one."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from services.iot_processor.tests.harness import (
    BUCKET,
    Aws,
    batch_metrics,
    invoke,
    items,
    objects,
    quarantined,
    reading,
    sensor_ids,
)
from shared.kinesis.aggregation import MAGIC
from shared.synthetic.kinesis_events import kinesis_event
from shared.synthetic.kpl import kpl_record

FIRST = 1000  # kinesis_event's first sequence number


def _aggregate(*readings: bytes) -> bytes:
    return kpl_record([(f"device-{index % 2}", data) for index, data in enumerate(readings)])


def _five() -> list[bytes]:
    return [reading(sensor_id=f"agg-{index}") for index in range(5)]


def test_an_aggregate_of_five_readings_between_plain_ones_stores_all_seven(aws: Aws) -> None:
    event = kinesis_event([reading(sensor_id="before"), _aggregate(*_five()), reading(sensor_id="after")])
    assert invoke(event) == {"batchItemFailures": []}
    assert sensor_ids(items(aws)) == {"before", "after"} | {f"agg-{index}" for index in range(5)}
    assert objects(aws, "quarantine/") == []


def test_processed_lines_name_the_aggregates_sequence_number_and_each_readings_index(aws: Aws) -> None:
    assert invoke(kinesis_event([reading(sensor_id="plain"), _aggregate(*_five())])) == {"batchItemFailures": []}
    (key,) = objects(aws, "processed/")
    assert key.endswith(f"/{FIRST}-{FIRST + 1}-4.jsonl.gz")
    lines = [
        json.loads(line)
        for line in gzip.decompress(aws.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()).splitlines()
    ]
    named = {(line["sensor_id"], line["sequence_number"], line["sub_record"]) for line in lines}
    assert named == {("plain", str(FIRST), None)} | {(f"agg-{i}", str(FIRST + 1), i) for i in range(5)}


def test_an_invalid_reading_inside_an_aggregate_is_quarantined_alone_under_its_index(aws: Aws) -> None:
    inside = [reading(sensor_id="ok-0"), b"not json", reading(sensor_id="ok-2"), reading(value="hot")]
    assert invoke(kinesis_event([_aggregate(*inside)])) == {"batchItemFailures": []}
    assert sensor_ids(items(aws)) == {"ok-0", "ok-2"}
    assert sorted(key.rsplit("/", 1)[-1] for key in objects(aws, "quarantine/")) == [
        f"{FIRST}-1.json",
        f"{FIRST}-3.json",
    ]
    documents = sorted(quarantined(aws), key=lambda document: document["sub_record"])
    assert [(d["reason"], d["sequence_number"], d["sub_record"]) for d in documents] == [
        ("not_json", str(FIRST), 1),
        ("wrong_type", str(FIRST), 3),
    ]
    assert [d["partition_key"] for d in documents] == ["device-1", "device-1"]  # the reading's own key


def _sealed(message: bytes) -> bytes:
    return MAGIC + message + hashlib.md5(message, usedforsecurity=False).digest()


def _flipped(data: bytes) -> bytes:
    return data[:10] + bytes([data[10] ^ 0xFF]) + data[11:]


CORRUPT = {
    "checksum_mismatch": _flipped(kpl_record([("k", reading())])),
    "truncated": kpl_record([("k", reading())])[:12],
    "malformed_protobuf": _sealed(b"\x0a\x01k\x1a\x10\x08"),
    "empty": _sealed(b""),
}


@pytest.mark.parametrize("defect", sorted(CORRUPT))
def test_a_corrupt_aggregate_is_quarantined_whole_with_its_defect_and_the_rest_is_stored(aws: Aws, defect: str) -> None:
    data = CORRUPT[defect]
    event = kinesis_event([reading(sensor_id="before"), data, reading(sensor_id="after")])
    assert invoke(event) == {"batchItemFailures": []}
    assert sensor_ids(items(aws)) == {"before", "after"}
    (document,) = quarantined(aws)
    assert document["reason"] == "corrupt_aggregate"
    assert document["detail"].startswith(f"{defect}: ")
    assert (document["sequence_number"], document["sub_record"]) == (str(FIRST + 1), None)
    assert document["data_base64"] == kinesis_event([data])["Records"][0]["kinesis"]["data"]  # the bytes, whole
    assert objects(aws, "quarantine/")[0].endswith(f"/{FIRST + 1}.json")


def test_a_retried_aggregate_overwrites_its_own_objects_and_items(aws: Aws) -> None:
    event = kinesis_event([_aggregate(reading(sensor_id="a"), b"{}", reading(sensor_id="b"))])
    assert invoke(event) == {"batchItemFailures": []}
    first = (sorted(objects(aws, "quarantine/")), sorted(objects(aws, "processed/")), len(items(aws)))
    assert invoke(event) == {"batchItemFailures": []}
    assert (sorted(objects(aws, "quarantine/")), sorted(objects(aws, "processed/")), len(items(aws))) == first
    assert first[2] == 2


class RefusingTableWrites:
    """A DynamoDB client whose every BatchWriteItem is throttled."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def batch_write_item(self, **kwargs: Any) -> Any:
        raise ClientError(
            {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}, "BatchWriteItem"
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def test_readings_of_an_aggregate_that_cannot_be_stored_fail_the_aggregates_sequence_number_once(
    aws: Aws, use_clients: Callable[..., None]
) -> None:
    use_clients(dynamodb=RefusingTableWrites(aws.dynamodb))
    response = invoke(kinesis_event([b"not json", _aggregate(*_five())]))
    assert response == {"batchItemFailures": [{"itemIdentifier": str(FIRST + 1)}]}
    assert len(quarantined(aws)) == 1  # the plain invalid record is settled; it is not retried


def test_a_failed_quarantine_write_inside_an_aggregate_fails_only_that_aggregate(
    aws: Aws, use_clients: Callable[..., None]
) -> None:
    s3 = aws.s3

    class QuarantineDown:
        def put_object(self, **kwargs: Any) -> Any:
            if kwargs["Key"].startswith("quarantine/"):
                raise ClientError({"Error": {"Code": "SlowDown", "Message": "slow down"}}, "PutObject")
            return s3.put_object(**kwargs)

        def __getattr__(self, name: str) -> Any:
            return getattr(s3, name)

    use_clients(s3=QuarantineDown())
    response = invoke(kinesis_event([reading(sensor_id="plain"), _aggregate(reading(sensor_id="in"), b"bad")]))
    assert response == {"batchItemFailures": [{"itemIdentifier": str(FIRST + 1)}]}
    assert sensor_ids(items(aws)) == {"plain", "in"}  # stored; the retry rewrites the same item


def test_metrics_count_every_reading_received_and_every_aggregate_corrupt_ones_included(
    aws: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    event = kinesis_event(
        [
            CORRUPT["empty"],
            _aggregate(*_five()),
            CORRUPT["truncated"],
            _aggregate(reading(sensor_id="pair-0"), reading(sensor_id="pair-1")),
            reading(sensor_id="plain"),
        ]
    )
    assert invoke(event) == {"batchItemFailures": []}
    metrics = batch_metrics(capsys.readouterr().out)
    # 2 corrupt records (one each, refused whole), 5 + 2 readings of the two aggregates, 1 plain reading
    assert (metrics["ReadingsReceived"], metrics["AggregatesReceived"]) == (10, 2)
    assert (metrics["ReadingsStored"], metrics["ReadingsQuarantined"]) == (8, 2)
