"""Kinesis event-source-mapping events in the shape Lambda delivers them: one builder for every caller.

The local event source mapping builds them from records it read; handler tests and the benchmark from payloads.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

LOCAL_SHARD = "shardId-000000000000"
LOCAL_STREAM_ARN = "arn:aws:kinesis:eu-west-1:123456789012:stream/readings"


def event_record(
    *, shard_id: str, sequence_number: str, partition_key: str, data: bytes, arrival: float, stream_arn: str
) -> dict[str, Any]:
    region, account = stream_arn.split(":")[3:5]
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": partition_key,
            "sequenceNumber": sequence_number,
            "data": base64.b64encode(data).decode(),
            "approximateArrivalTimestamp": arrival,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{shard_id}:{sequence_number}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": f"arn:aws:iam::{account}:role/processor",
        "awsRegion": region,
        "eventSourceARN": stream_arn,
    }


def kinesis_event(
    payloads: Sequence[bytes], *, first_sequence: int = 1000, arrival: float = 1_790_000_000.0
) -> dict[str, Any]:
    """An event of ``payloads`` on one shard, with consecutive sequence numbers and arrival times 1 ms apart."""
    return {
        "Records": [
            event_record(
                shard_id=LOCAL_SHARD,
                sequence_number=str(first_sequence + index),
                partition_key=f"pk-{index}",
                data=payload,
                arrival=arrival + index / 1000,
                stream_arn=LOCAL_STREAM_ARN,
            )
            for index, payload in enumerate(payloads)
        ]
    }
