"""What the replay tool's tests put where a stage would have: archive objects, Lambda's on-failure documents."""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import boto3
import pytest
from moto import mock_aws

from services.iot_archive import contract as archive

REGION: Final = "eu-west-1"
STREAM, RAW, FAILURES = "readings", "raw-archive", "failed-batches"
SHARD = "shardId-000000000000"
START, END = "2026-11-27T13:15:00Z", "2026-11-27T14:30:00Z"
ARCHIVE_ARGS = ["--stream-name", STREAM, "--archive-bucket", RAW, "--from-archive", "--start", START, "--end", END]
FAILURE_ARGS = ["--stream-name", STREAM, "--failure-bucket", FAILURES, "--from-failures"]


@dataclass
class Aws:
    kinesis: Any
    s3: Any


@contextmanager
def emulated_stage(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    """moto with the stream and both buckets the replay tool reads and writes."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        kinesis, s3 = boto3.client("kinesis"), boto3.client("s3")
        kinesis.create_stream(StreamName=STREAM, ShardCount=1)
        for bucket in (RAW, FAILURES):
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        yield Aws(kinesis=kinesis, s3=s3)


def reading(sensor_id: str, timestamp: str | int, **fields: Any) -> bytes:
    return json.dumps(
        {"sensor_id": sensor_id, "sensor_type": "temperature", "value": 21.5, "timestamp": timestamp, **fields}
    ).encode()


def at(iso: str) -> datetime:
    return datetime.fromisoformat(iso)


def epoch_ms(iso: str) -> int:
    return int(at(iso).timestamp() * 1000)


def put_archive_object(aws: Aws, hour: str, name: str, lines: Sequence[bytes]) -> str:
    """A Firehose object: the records, each followed by the newline delimiter, gzipped, under the hour's partition."""
    key = archive.partition_prefix(at(hour)) + f"iot-dev-archive-delivery-1-{name}.gz"
    aws.s3.put_object(Bucket=RAW, Key=key, Body=gzip.compress(b"".join(line + b"\n" for line in lines)))
    return key


def failure_document(batch: Sequence[tuple[bytes, str]], *, first_sequence: int = 1000) -> dict[str, Any]:
    """Lambda's S3 on-failure record for a Kinesis batch: invocation metadata, and the event as a JSON string."""
    records = [
        {
            "kinesis": {
                "kinesisSchemaVersion": "1.0",
                "partitionKey": partition_key,
                "sequenceNumber": str(first_sequence + index),
                "data": base64.b64encode(data).decode(),
                "approximateArrivalTimestamp": 1795163400.25,
            },
            "eventSource": "aws:kinesis",
            "eventID": f"{SHARD}:{first_sequence + index}",
        }
        for index, (data, partition_key) in enumerate(batch)
    ]
    return {
        "requestContext": {"condition": "RetryAttemptsExhausted", "approximateInvokeCount": 4},
        "version": "1.0",
        "timestamp": "2026-11-27T13:30:00.000Z",
        "KinesisBatchInfo": {
            "shardId": SHARD,
            "startSequenceNumber": str(first_sequence),
            "endSequenceNumber": str(first_sequence + len(batch) - 1),
            "batchSize": len(batch),
        },
        "payload": json.dumps({"Records": records}),
    }


def stream_records(aws: Aws, stream: str = STREAM) -> list[tuple[bytes, str]]:
    """Everything in the stream, shard by shard, in order: (data, partition key)."""
    found = []
    for shard in aws.kinesis.list_shards(StreamName=stream)["Shards"]:
        iterator = aws.kinesis.get_shard_iterator(
            StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records = aws.kinesis.get_records(ShardIterator=iterator, Limit=10_000)["Records"]
        found += [(record["Data"], record["PartitionKey"]) for record in records]
    return found


def all_objects(aws: Aws) -> dict[str, list[str]]:
    return {
        bucket: [o["Key"] for o in aws.s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
        for bucket in (RAW, FAILURES)
    }
