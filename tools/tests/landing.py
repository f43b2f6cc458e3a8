"""What the tools' tests put where the processor would have: built from the ingest contract, not its code."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3

from services.ingest.contract import ANOMALY_FLAG, PARTITION_KEY, SORT_KEY
from shared.readings.anomalies import DEFAULT_ANOMALY_BOUNDS, severity_of
from shared.readings.schema import Reading


def stored_item(reading: Reading) -> dict[str, Any]:
    """The readings table's item for ``reading``: the key and the anomaly flag the smoke test reads."""
    return {
        PARTITION_KEY: {"S": reading.sensor_id},
        SORT_KEY: {"S": reading.sort_key},
        ANOMALY_FLAG: {"BOOL": severity_of(reading, DEFAULT_ANOMALY_BOUNDS) is not None},
    }


@dataclass(frozen=True, kw_only=True)
class Landing:
    table_name: str
    processed_bucket: str


def create_landing(*, region: str) -> Landing:
    """The readings table (its key only) and the processed bucket, as the smoke test sees a stage, on moto."""
    table, bucket = "readings", "processed"
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
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    return Landing(table_name=table, processed_bucket=bucket)
