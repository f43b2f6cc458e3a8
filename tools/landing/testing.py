"""What the tools' tests put where the processor would have: built from the ingest contract, not its code."""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import boto3

from services.iot_archive import contract as archive
from services.iot_processor.contract import (
    ANOMALY_FLAG,
    PARTITION_KEY,
    SORT_KEY,
    StreamPosition,
    quarantine_key,
)
from shared.readings.anomalies import DEFAULT_ANOMALY_BOUNDS, severity_of
from shared.readings.schema import InvalidReadingError, Reading, parse_reading
from tools.landing.locate import archive_partition
from tools.landing.producers import Sent
from tools.landing.targets import Targets


def stored_item(reading: Reading) -> dict[str, Any]:
    """The readings table's item for ``reading``: the key, reading id and anomaly flag the checks read."""
    return {
        PARTITION_KEY: {"S": reading.sensor_id},
        SORT_KEY: {"S": reading.sort_key},
        "reading_id": {"S": reading.reading_id},
        ANOMALY_FLAG: {"BOOL": severity_of(reading, DEFAULT_ANOMALY_BOUNDS) is not None},
    }


def create_landing(*, region: str) -> Targets:
    """The readings table (its key only), the processed and the failure bucket, as the smoke test sees a stage, on
    moto; the stream's name (create the stream where a test puts records), no archive."""
    table, bucket, failures = "readings", "processed", "failures"
    boto3.client("dynamodb", region_name=region).create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[
            {"AttributeName": PARTITION_KEY, "KeyType": "HASH"},
            {"AttributeName": SORT_KEY, "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[{"AttributeName": name, "AttributeType": "S"} for name in (PARTITION_KEY, SORT_KEY)],
    )
    s3: Any = boto3.client("s3", region_name=region)
    for name in (bucket, failures):
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
    return Targets(
        stream_name="readings",
        table_name=table,
        processed_bucket=bucket,
        failure_bucket=failures,
        archive_bucket=None,
    )


def land(
    targets: Targets,
    sent: Sequence[Sent],
    *,
    skip: frozenset[int] = frozenset(),
    wrong_reason: int | None = None,
) -> None:
    """Write what the processor, Firehose and the alert topic would have for each sent record but those in ``skip``:
    the table's item or the quarantine document; with an archive bucket, the archived line in the partition of its
    event time (or an error record); with an alert inbox, the alert of each anomaly. ``wrong_reason``: the index of
    a record quarantined for a reason other than its own."""
    dynamodb, s3 = boto3.client("dynamodb"), boto3.client("s3")
    archived: dict[str, list[bytes]] = {}
    for index, item in enumerate(sent):
        if index in skip:
            continue
        now = datetime.fromtimestamp(item.put_at, tz=UTC)
        partition = archive_partition(item.record.data)
        line = (
            item.record.data
            if partition
            else json.dumps({"rawData": base64.b64encode(item.record.data).decode()}).encode()
        )
        archived.setdefault(partition or archive.ERROR_PREFIX, []).append(line)
        try:
            reading = parse_reading(item.record.data, now=now)
        except InvalidReadingError as problem:
            position = StreamPosition(
                shard_id=item.shard_id, sequence_number=item.sequence_number, partition_key="", arrival=now
            )
            reason = "not_json" if index == wrong_reason else str(problem.reason)
            document = json.dumps({"reason": reason}).encode()
            s3.put_object(Bucket=targets.processed_bucket, Key=quarantine_key(position), Body=document)
            continue
        dynamodb.put_item(TableName=targets.table_name, Item=stored_item(reading))
        if targets.alert_inbox_url and item.record.anomaly:
            alert = json.dumps({"reading_id": reading.reading_id})
            boto3.client("sqs").send_message(QueueUrl=targets.alert_inbox_url, MessageBody=alert)
    if targets.archive_bucket:
        for prefix, lines in archived.items():
            body = gzip.compress(b"\n".join(lines))
            # named by the call's first record: the records of each call are a Firehose object of their own
            first = f"{sent[0].shard_id}-{sent[0].sequence_number}" if sent else "none"
            s3.put_object(Bucket=targets.archive_bucket, Key=f"{prefix}landed-{first}-{len(lines)}.gz", Body=body)
