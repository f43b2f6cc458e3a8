"""Builds Kinesis event-source-mapping events the way Lambda delivers them, for handler tests."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

SHARD = "shardId-000000000000"
STREAM_ARN = "arn:aws:kinesis:eu-west-1:123456789012:stream/readings"


def kinesis_event(
    payloads: Sequence[bytes], *, first_sequence: int = 1000, arrival: float = 1_790_000_000.0
) -> dict[str, Any]:
    return {
        "Records": [
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": f"pk-{index}",
                    "sequenceNumber": str(first_sequence + index),
                    "data": base64.b64encode(payload).decode(),
                    "approximateArrivalTimestamp": arrival + index / 1000,
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"{SHARD}:{first_sequence + index}",
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": "arn:aws:iam::123456789012:role/processor",
                "awsRegion": "eu-west-1",
                "eventSourceARN": STREAM_ARN,
            }
            for index, payload in enumerate(payloads)
        ]
    }
