"""The processor handler against moto: partial failures, quarantine, idempotency, retries, alerts, queries."""

from __future__ import annotations

import os

# Powertools reads these when the handler module is imported, as Lambda sets them before the import.
os.environ.update(
    POWERTOOLS_SERVICE_NAME="processor", POWERTOOLS_METRICS_NAMESPACE="IotPlatform", POWERTOOLS_TRACE_DISABLED="true"
)

import gzip
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest.mock import MagicMock

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from services.iot_processor.runtime import handler
from services.iot_processor.runtime.alerts import Webhook
from services.iot_processor.runtime.clients import AwsClients
from services.iot_processor.runtime.settings import encode_bounds
from services.iot_processor.runtime.table import (
    ANOMALY_PARTITION,
    ReadingsTable,
    StoredReading,
)
from shared.readings.anomalies import DEFAULT_ANOMALY_BOUNDS, Severity
from shared.readings.schema import parse_reading
from tools.local.kinesis_events import kinesis_event
from tools.processor_fixtures import create_processor_resources

EVENTS = Path(__file__).parent / "events"
REGION = "eu-west-1"
TABLE, BUCKET = "readings", "processed"
NOW = datetime.now(UTC).replace(microsecond=0)


@dataclass
class LambdaContext:
    function_name: str = "processor"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:123456789012:function:processor"
    aws_request_id: str = "00000000-0000-0000-0000-000000000001"


@dataclass
class Aws:
    dynamodb: Any
    s3: Any
    sqs: Any
    queue_url: str


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    for name, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "TABLE_NAME": TABLE,
        "PROCESSED_BUCKET": BUCKET,
        "ANOMALY_BOUNDS": encode_bounds(DEFAULT_ANOMALY_BOUNDS),
        "TTL_DAYS": "7",
        "ANOMALY_INDEX_SHARDS": "4",
        "POWERTOOLS_SERVICE_NAME": "processor",
        "POWERTOOLS_METRICS_NAMESPACE": "IotPlatform",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("WEBHOOK_SECRET_ARN", raising=False)
    with mock_aws():
        resources = create_processor_resources(region=REGION, table_name=TABLE, bucket=BUCKET)
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        s3 = boto3.client("s3", region_name=REGION)
        sns = boto3.client("sns", region_name=REGION)
        topic_arn = resources.topic_arn
        monkeypatch.setenv("ALERT_TOPIC_ARN", topic_arn)
        sqs = boto3.client("sqs", region_name=REGION)
        queue_url = sqs.create_queue(QueueName="alerts-subscriber")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
        build_processor = handler.reading_processor  # tests may monkeypatch the module attribute
        build_processor.cache_clear()
        yield Aws(dynamodb=dynamodb, s3=s3, sqs=sqs, queue_url=queue_url)
        build_processor.cache_clear()


def reading(**fields: Any) -> bytes:
    document = {"sensor_id": "boiler-1", "sensor_type": "temperature", "value": 21.5, "timestamp": NOW.isoformat()}
    document.update(fields)
    return json.dumps(document).encode()


def invoke(event: dict[str, Any]) -> dict[str, Any]:
    return dict(handler.lambda_handler(event, LambdaContext()))


def items(aws: Aws) -> list[dict[str, Any]]:
    return list(aws.dynamodb.scan(TableName=TABLE)["Items"])


def objects(aws: Aws, prefix: str) -> list[str]:
    return [entry["Key"] for entry in aws.s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])]


def alerts(aws: Aws) -> list[dict[str, Any]]:
    messages = aws.sqs.receive_message(QueueUrl=aws.queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
    return list(messages.get("Messages", []))


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


@pytest.fixture
def use_clients(monkeypatch: pytest.MonkeyPatch, aws: Aws) -> Callable[..., None]:
    """Run the handler with some AWS clients replaced (the handler's own wiring, injected clients)."""
    monkeypatch.setattr(time, "sleep", lambda _: None)  # backoff without waiting

    def use(**clients: Any) -> None:
        injected = AwsClients()
        injected.__dict__.update(clients)  # pre-seed the cached properties
        handler.reading_processor.cache_clear()
        processor = handler.reading_processor(injected)
        monkeypatch.setattr(handler, "reading_processor", lambda: processor)

    return use


def test_throttled_writes_are_retried_until_stored(aws: Aws, use_clients: Callable[..., None]) -> None:
    throttled = ThrottlingDynamoDB(aws.dynamodb, throttled_calls=3)
    use_clients(dynamodb=throttled)
    assert invoke(kinesis_event([reading(sensor_id=f"s-{i}") for i in range(30)])) == {"batchItemFailures": []}
    assert len(items(aws)) == 30
    assert throttled.calls == 2 + 3  # two chunks of at most 25, three throttled attempts on the first


def test_writes_still_throttled_after_retries_fail_only_their_records(
    aws: Aws, use_clients: Callable[..., None]
) -> None:
    use_clients(
        dynamodb=ThrottlingDynamoDB(aws.dynamodb, throttled_calls=6)
    )  # the first chunk exhausts its six attempts
    event = kinesis_event([reading(sensor_id=f"s-{i}") for i in range(30)] + [b"not json"])
    response = invoke(event)
    failed = {entry["itemIdentifier"] for entry in response["batchItemFailures"]}
    assert failed == {str(1000 + i) for i in range(25)}
    assert len(items(aws)) == 5
    assert len(objects(aws, "quarantine/")) == 1


def test_quarantine_write_failure_fails_only_that_record(aws: Aws, use_clients: Callable[..., None]) -> None:
    def put_object(**kwargs: Any) -> Any:
        if kwargs["Key"].startswith("quarantine/"):
            raise ClientError({"Error": {"Code": "SlowDown", "Message": "slow down"}}, "PutObject")
        return aws.s3.put_object(**kwargs)

    use_clients(s3=MagicMock(put_object=MagicMock(side_effect=put_object)))
    response = invoke(kinesis_event([reading(), b"\x00\x01"]))
    assert response == {"batchItemFailures": [{"itemIdentifier": "1001"}]}
    assert len(items(aws)) == 1


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


def test_failing_webhook_never_fails_a_reading() -> None:
    def broken_opener(*_: Any, **__: Any) -> Any:
        raise TimeoutError("webhook timed out")

    webhook = Webhook(secret_loader=lambda: {"url": "https://hooks.example.com/x", "token": "t"}, opener=broken_opener)
    stored = StoredReading(reading=parse_reading(reading(value=150), now=NOW), severity=Severity.CRITICAL)
    assert webhook.notify([stored]) is False


def test_webhook_posts_alerts_with_a_timeout() -> None:
    seen: dict[str, Any] = {}

    class Response:
        status = 204

        def __enter__(self) -> Response:
            return self

        def __exit__(self, *_: object) -> None:
            return None

    def opener(request: Any, timeout: float) -> Response:
        seen.update(
            url=request.full_url, timeout=timeout, body=json.loads(request.data), auth=request.headers["Authorization"]
        )
        return Response()

    webhook = Webhook(
        secret_loader=lambda: {"url": "https://hooks.example.com/x", "token": "t"}, opener=opener, timeout_seconds=1.5
    )
    stored = StoredReading(reading=parse_reading(reading(value=150), now=NOW), severity=Severity.CRITICAL)
    assert webhook.notify([stored]) is True
    assert seen["timeout"] == 1.5
    assert seen["auth"] == "Bearer t"
    assert seen["body"]["alerts"][0]["severity"] == "critical"


def test_webhook_without_url_is_skipped_and_plain_http_refused() -> None:
    stored = [StoredReading(reading=parse_reading(reading(value=150), now=NOW), severity=Severity.CRITICAL)]
    assert Webhook(secret_loader=lambda: {"url": ""}).notify(stored) is True
    assert Webhook(secret_loader=lambda: {"url": "http://insecure.example.com"}).notify(stored) is False
