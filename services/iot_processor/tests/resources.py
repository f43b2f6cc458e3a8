"""Creates the processor's table, bucket and topic in an emulated AWS (moto), for tests and benchmarks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3

from services.iot_processor.contract import ANOMALY_INDEX, ANOMALY_PARTITION, ANOMALY_SORT, PARTITION_KEY, SORT_KEY


@dataclass(frozen=True, kw_only=True)
class ProcessorResources:
    table_name: str
    bucket: str
    topic_arn: str


def create_processor_resources(
    *, region: str, table_name: str = "readings", bucket: str = "processed", session: boto3.Session | None = None
) -> ProcessorResources:
    """On ``session``'s clients (boto3's default session without one)."""
    aws = session or boto3.Session(region_name=region)
    dynamodb: Any = aws.client("dynamodb", region_name=region)
    dynamodb.create_table(
        TableName=table_name,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[
            {"AttributeName": PARTITION_KEY, "KeyType": "HASH"},
            {"AttributeName": SORT_KEY, "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": name, "AttributeType": "S"}
            for name in (PARTITION_KEY, SORT_KEY, ANOMALY_PARTITION, ANOMALY_SORT)
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": ANOMALY_INDEX,
                "KeySchema": [
                    {"AttributeName": ANOMALY_PARTITION, "KeyType": "HASH"},
                    {"AttributeName": ANOMALY_SORT, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    s3: Any = aws.client("s3", region_name=region)
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    topic_arn = aws.client("sns", region_name=region).create_topic(Name="alerts")["TopicArn"]
    return ProcessorResources(table_name=table_name, bucket=bucket, topic_arn=topic_arn)
