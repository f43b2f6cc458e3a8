"""The processor handler on moto: the environment Lambda would set, the resources, and helpers to read results.

Fixtures built on it (``aws``, ``use_clients``) live in conftest.py; tests import the helpers from here.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from services.iot_processor.runtime import handler

REGION = "eu-west-1"
TABLE, BUCKET = "readings", "processed"
NOW = datetime.now(UTC).replace(microsecond=0)


@dataclass
class LambdaContext:
    function_name: str = "processor"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:123456789012:function:processor"
    aws_request_id: str = "00000000-0000-0000-0000-000000000001"

    def get_remaining_time_in_millis(self) -> int:
        """No time beyond the table's reserve: throttled writes get their bounded attempts only (test_table.py
        covers the retries that go on while the invocation has time)."""
        return 0


@dataclass
class Aws:
    dynamodb: Any
    s3: Any
    sns: Any
    sqs: Any
    queue_url: str


def reading(**fields: Any) -> bytes:
    document = {"sensor_id": "boiler-1", "sensor_type": "temperature", "value": 21.5, "timestamp": NOW.isoformat()}
    document.update(fields)
    return json.dumps(document).encode()


def invoke(event: dict[str, Any]) -> dict[str, Any]:
    return dict(handler.lambda_handler(event, LambdaContext()))


def failed_sequence_numbers(response: dict[str, Any]) -> set[str]:
    return {entry["itemIdentifier"] for entry in response["batchItemFailures"]}


def items(aws: Aws) -> list[dict[str, Any]]:
    return list(aws.dynamodb.scan(TableName=TABLE)["Items"])


def objects(aws: Aws, prefix: str) -> list[str]:
    return [entry["Key"] for entry in aws.s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])]


def quarantined(aws: Aws) -> list[dict[str, Any]]:
    """Every quarantine document, oldest sequence number first."""
    documents = [
        json.loads(aws.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()) for key in objects(aws, "quarantine/")
    ]
    return sorted(documents, key=lambda document: int(document["sequence_number"]))


def alerts(aws: Aws) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    while messages := aws.sqs.receive_message(
        QueueUrl=aws.queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    ).get("Messages", []):
        found.extend(messages)
        aws.sqs.delete_message_batch(
            QueueUrl=aws.queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
        )
    return found


def client_error(code: str, operation: str, *, status: int = 400) -> ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": f"{code} (injected)"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, operation)


def sensor_ids(batch_items: Sequence[dict[str, Any]]) -> set[str]:
    return {item["sensor_id"]["S"] for item in batch_items}


def processed_lines(aws: Aws) -> list[dict[str, Any]]:
    """Every line of every processed-output object."""
    return [
        json.loads(line)
        for key in objects(aws, "processed/")
        for line in gzip.decompress(aws.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()).decode().splitlines()
    ]


def batch_metrics(stdout: str, *, units: bool = False) -> dict[str, Any]:
    """The values (or the units) of the batch's EMF metrics the handler printed: the blob with ReadingsReceived."""
    for line in stdout.splitlines():
        if line.startswith("{") and '"ReadingsReceived"' in line:
            blob = json.loads(line)
            (directive,) = blob["_aws"]["CloudWatchMetrics"]
            if units:
                return {metric["Name"]: metric.get("Unit") for metric in directive["Metrics"]}
            values = {metric["Name"]: blob[metric["Name"]] for metric in directive["Metrics"]}
            return {name: sum(value) if isinstance(value, list) else value for name, value in values.items()}
    raise AssertionError(f"no batch metrics in {stdout!r}")


def logged(caplog: pytest.LogCaptureFixture, message: str) -> list[dict[str, Any]]:
    """The fields (extra= included) of every log record with ``message``: what an operator searches for."""
    return [vars(record) for record in caplog.records if record.getMessage() == message]
