"""What the tools' tests put where the processor would have: built from the ingest contract, not its code."""

from __future__ import annotations

from typing import Any

import boto3

from services.iot_processor.contract import ANOMALY_FLAG, PARTITION_KEY, SORT_KEY
from shared.readings.anomalies import DEFAULT_ANOMALY_BOUNDS, severity_of
from shared.readings.schema import Reading
from tools.landing.targets import Targets


def stored_item(reading: Reading) -> dict[str, Any]:
    """The readings table's item for ``reading``: the key and the anomaly flag the smoke test reads."""
    return {
        PARTITION_KEY: {"S": reading.sensor_id},
        SORT_KEY: {"S": reading.sort_key},
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
