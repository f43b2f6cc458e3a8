"""Every output of the processor failing, one at a time, through the handler on moto.

Each test says exactly which records are reported for retry (batch item failures) and which are not, where every
other record ended (table, quarantine, alerts, processed output), and the batch's metrics.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any
from unittest.mock import MagicMock

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError

from services.iot_processor.runtime import batch
from services.iot_processor.tests.harness import (
    REGION,
    TABLE,
    Aws,
    alerts,
    batch_metrics,
    client_error,
    failed_sequence_numbers,
    invoke,
    items,
    logged,
    objects,
    processed_lines,
    quarantined,
    reading,
    sensor_ids,
)
from shared.synthetic.kinesis_events import kinesis_event

ANOMALY = 130  # a critical temperature
SEQUENCE = 1000  # kinesis_event numbers records from here


def sequence(index: int) -> str:
    return str(SEQUENCE + index)


def readings(count: int, *, anomalies: Collection[int] = ()) -> list[bytes]:
    return [reading(sensor_id=f"s-{i}", value=ANOMALY if i in anomalies else 20) for i in range(count)]


def alerted(aws: Aws) -> list[str]:
    return sorted(json.loads(message["Body"])["sensor_id"] for message in alerts(aws))


def wrapped(client: Any, **methods: Callable[..., Any]) -> MagicMock:
    """The moto client, with some operations replaced; calls to every operation are counted."""
    mock = MagicMock(wraps=client)
    for name, method in methods.items():
        getattr(mock, name).side_effect = method
    return mock


def written_sensors(request: dict[str, Any]) -> list[str]:
    return [entry["PutRequest"]["Item"]["sensor_id"]["S"] for entry in request["RequestItems"][TABLE]]


# --- the readings table ------------------------------------------------------------------------------------------


def test_items_the_table_leaves_unprocessed_are_retried_alone_and_neither_alerted_nor_in_the_output(
    aws: Aws, use_clients: Callable[..., None], capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    stuck = {"s-2", "s-4"}  # s-4 is an anomaly: its alert must wait until it is stored

    def batch_write_item(**request: Any) -> dict[str, Any]:
        entries = request["RequestItems"][TABLE]
        kept = [entry for entry in entries if entry["PutRequest"]["Item"]["sensor_id"]["S"] not in stuck]
        left = [entry for entry in entries if entry not in kept]
        if kept:
            aws.dynamodb.batch_write_item(RequestItems={TABLE: kept})
        return {"UnprocessedItems": {TABLE: left} if left else {}}

    dynamodb = wrapped(aws.dynamodb, batch_write_item=batch_write_item)
    use_clients(dynamodb=dynamodb)
    response = invoke(kinesis_event(readings(6, anomalies={3, 4})))

    assert failed_sequence_numbers(response) == {sequence(2), sequence(4)}
    assert dynamodb.batch_write_item.call_count == 6  # the configured attempts, no fewer, no more
    assert sensor_ids(items(aws)) == {"s-0", "s-1", "s-3", "s-5"}
    assert alerted(aws) == ["s-3"]
    lines = processed_lines(aws)
    assert sorted(line["sensor_id"] for line in lines) == ["s-0", "s-1", "s-3", "s-5"]
    assert {(line["shard_id"], line["sequence_number"]) for line in lines} == {
        ("shardId-000000000000", sequence(i)) for i in (0, 1, 3, 5)
    }
    assert quarantined(aws) == []
    metrics = batch_metrics(capsys.readouterr().out)
    assert (metrics["ReadingsReceived"], metrics["ReadingsStored"], metrics["ReadingsFailed"]) == (6, 4, 2)
    assert (metrics["AnomaliesDetected"], metrics["ReadingsQuarantined"]) == (1, 0)
    assert [record["count"] for record in logged(caplog, "readings not stored after retries")] == [2]
    (settled,) = logged(caplog, "batch settled")
    names = ("received", "aggregates", "stored", "quarantined", "anomalies", "alerts_refused")
    summary = {name: settled[name] for name in names}
    assert summary == {
        "received": 6,
        "aggregates": 0,
        "stored": 4,
        "quarantined": 0,
        "anomalies": 1,
        "alerts_refused": 0,
    }
    assert settled["failed"] == 2


@pytest.mark.parametrize(
    "error",
    [
        client_error("ThrottlingException", "BatchWriteItem"),
        EndpointConnectionError(endpoint_url="https://dynamodb.eu-west-1.amazonaws.com"),
    ],
    ids=["throttled", "no connection"],  # every class of error: test_aws_errors.py
)
def test_transient_table_errors_are_retried_then_fail_only_their_chunk(
    aws: Aws, use_clients: Callable[..., None], error: Exception
) -> None:
    def batch_write_item(**request: Any) -> Any:
        if "s-0" in written_sensors(request):
            raise error
        return aws.dynamodb.batch_write_item(**request)

    dynamodb = wrapped(aws.dynamodb, batch_write_item=batch_write_item)
    use_clients(dynamodb=dynamodb)
    response = invoke(kinesis_event(readings(30)))

    assert failed_sequence_numbers(response) == {sequence(i) for i in range(25)}  # the first chunk of 25
    assert dynamodb.batch_write_item.call_count == 6 + 1
    assert sensor_ids(items(aws)) == {f"s-{i}" for i in range(25, 30)}
    assert quarantined(aws) == []


def test_a_systemic_table_error_fails_its_chunk_at_once_and_quarantines_nothing(
    aws: Aws, use_clients: Callable[..., None]
) -> None:
    def batch_write_item(**request: Any) -> Any:
        if "s-0" in written_sensors(request):
            raise client_error("AccessDeniedException", "BatchWriteItem")
        return aws.dynamodb.batch_write_item(**request)

    dynamodb = wrapped(aws.dynamodb, batch_write_item=batch_write_item)
    use_clients(dynamodb=dynamodb)
    response = invoke(kinesis_event(readings(30)))

    assert failed_sequence_numbers(response) == {sequence(i) for i in range(25)}
    assert dynamodb.batch_write_item.call_count == 2  # no retries: a retry cannot cure it
    assert sensor_ids(items(aws)) == {f"s-{i}" for i in range(25, 30)}
    assert quarantined(aws) == []


def test_an_item_the_table_refuses_is_found_alone_and_quarantined_the_others_are_stored(
    aws: Aws, use_clients: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    def batch_write_item(**request: Any) -> Any:
        if "s-2" in written_sensors(request):
            raise client_error("ValidationException", "BatchWriteItem")
        return aws.dynamodb.batch_write_item(**request)

    dynamodb = wrapped(aws.dynamodb, batch_write_item=batch_write_item)
    use_clients(dynamodb=dynamodb)
    response = invoke(kinesis_event(readings(4, anomalies={2})))

    assert response == {"batchItemFailures": []}  # never retried: the same item would be refused again
    assert dynamodb.batch_write_item.call_count == 1 + 4  # the batch, then each item alone
    assert sensor_ids(items(aws)) == {"s-0", "s-1", "s-3"}
    (refused,) = quarantined(aws)
    assert (refused["reason"], refused["sequence_number"]) == ("rejected_by_store", sequence(2))
    assert refused["detail"] == "ClientError ValidationException: ValidationException (injected)"
    assert alerted(aws) == []  # a refused anomaly is not alerted
    metrics = batch_metrics(capsys.readouterr().out)
    assert (metrics["ReadingsStored"], metrics["ReadingsQuarantined"], metrics["ReadingsFailed"]) == (3, 1, 0)


def test_a_batch_whose_every_record_fails_is_reported_not_raised(aws: Aws, use_clients: Callable[..., None]) -> None:
    def batch_write_item(**_: Any) -> Any:
        raise client_error("AccessDeniedException", "BatchWriteItem")

    use_clients(dynamodb=wrapped(aws.dynamodb, batch_write_item=batch_write_item))
    response = invoke(kinesis_event(readings(3)))
    assert failed_sequence_numbers(response) == {sequence(0), sequence(1), sequence(2)}


# --- the quarantine ----------------------------------------------------------------------------------------------


def test_a_failed_quarantine_write_fails_only_that_record(
    aws: Aws, use_clients: Callable[..., None], capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    def put_object(**request: Any) -> Any:
        if request["Key"].startswith("quarantine/") and request["Metadata"]["reason"] == "not_json":
            raise client_error("SlowDown", "PutObject", status=503)
        return aws.s3.put_object(**request)

    use_clients(s3=wrapped(aws.s3, put_object=put_object))
    payloads = [reading(sensor_id="s-0"), b"{broken", b"\xff", reading(sensor_id="s-3")]
    response = invoke(kinesis_event(payloads))

    assert failed_sequence_numbers(response) == {sequence(1)}
    assert [document["sequence_number"] for document in quarantined(aws)] == [sequence(2)]
    assert sensor_ids(items(aws)) == {"s-0", "s-3"}
    metrics = batch_metrics(capsys.readouterr().out)
    assert (metrics["ReadingsStored"], metrics["ReadingsQuarantined"], metrics["ReadingsFailed"]) == (2, 1, 1)
    (failed_write,) = logged(caplog, "quarantine write failed; the record will be retried")
    assert failed_write["error"] == "ClientError SlowDown: SlowDown (injected)"
    attempts = [
        (r["reason"], r["sequence_number"], r["sub_record"], r["detail"][:9])
        for r in logged(caplog, "reading quarantined")
    ]
    assert attempts == [("not_json", sequence(1), None, "Expecting"), ("not_utf8", sequence(2), None, "byte 0 is")]


def test_a_record_that_cannot_be_judged_is_quarantined_as_unprocessable(
    aws: Aws, caplog: pytest.LogCaptureFixture, local_time_zone: str
) -> None:
    event = kinesis_event([reading(sensor_id="s-0"), reading(sensor_id="s-1")])
    event["Records"][1]["kinesis"]["data"] = "abc"  # not base64: decoding the record itself fails
    assert invoke(event) == {"batchItemFailures": []}
    (document,) = quarantined(aws)
    assert (document["reason"], document["sequence_number"], document["data_base64"]) == (
        "unprocessable",
        sequence(1),
        "",
    )
    assert document["detail"].startswith("Error: ")  # binascii.Error, named in the detail
    assert (document["shard_id"], document["partition_key"]) == ("shardId-000000000000", "pk-1")
    arrival = datetime.fromtimestamp(1_790_000_000.001, UTC)  # kinesis_event's arrival of the second record
    assert document["arrival"] == arrival.isoformat()
    assert objects(aws, "processed/")[0].startswith(f"processed/{arrival:%Y/%m/%d/%H}/")  # UTC, not local time
    assert sensor_ids(items(aws)) == {"s-0"}
    unprocessable = logged(caplog, "record unprocessable")
    assert [(record["sequence_number"], record["sub_record"]) for record in unprocessable] == [(sequence(1), None)]


# --- the processed output ----------------------------------------------------------------------------------------


def test_a_failed_processed_output_write_retries_every_stored_record_but_no_quarantined_one(
    aws: Aws, use_clients: Callable[..., None], capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    def put_object(**request: Any) -> Any:
        if request["Key"].startswith("processed/"):
            raise client_error("InternalError", "PutObject", status=500)
        return aws.s3.put_object(**request)

    use_clients(s3=wrapped(aws.s3, put_object=put_object))
    response = invoke(kinesis_event([*readings(3, anomalies={1}), b"{broken"]))

    assert failed_sequence_numbers(response) == {sequence(0), sequence(1), sequence(2)}
    assert [document["sequence_number"] for document in quarantined(aws)] == [sequence(3)]
    assert processed_lines(aws) == []
    metrics = batch_metrics(capsys.readouterr().out)
    assert (metrics["ReadingsStored"], metrics["AnomaliesDetected"], metrics["ReadingsFailed"]) == (0, 0, 3)
    assert metrics["ReadingsQuarantined"] == 1
    (record,) = logged(caplog, "processed output write failed; the batch's readings will be retried")
    assert record["error"] == "ClientError InternalError: InternalError (injected)"


# --- the alert topic ---------------------------------------------------------------------------------------------


class PartlyFailingTopic:
    """PublishBatch through moto, except for the entries of some sensors: failed (retryable) or refused."""

    def __init__(self, sns: Any, *, failed: Collection[str] = (), refused: Collection[str] = ()) -> None:
        self._sns = sns
        self._failed = set(failed)
        self._refused = set(refused)
        self.calls: list[int] = []

    def publish_batch(self, **request: Any) -> dict[str, Any]:
        entries = request["PublishBatchRequestEntries"]
        self.calls.append(len(entries))
        sensor = {entry["Id"]: json.loads(entry["Message"])["sensor_id"] for entry in entries}
        sent = [entry for entry in entries if sensor[entry["Id"]] not in self._failed | self._refused]
        response = self._sns.publish_batch(TopicArn=request["TopicArn"], PublishBatchRequestEntries=sent)
        failures = [
            {"Id": entry["Id"], "Code": "InternalError", "SenderFault": False, "Message": "try again"}
            for entry in entries
            if sensor[entry["Id"]] in self._failed
        ] + [
            {"Id": entry["Id"], "Code": "InvalidParameter", "SenderFault": True, "Message": "refused"}
            for entry in entries
            if sensor[entry["Id"]] in self._refused
        ]
        return {"Successful": response["Successful"], "Failed": failures}


def test_partly_failed_publish_batch_retries_only_the_failed_alerts_and_refused_ones_are_counted(
    aws: Aws, use_clients: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    sns = boto3.client("sns", region_name=REGION)
    # 12 anomalies: two PublishBatch calls of 10 and 2; s-11 fails in the second call, s-4 is refused in the first
    topic = PartlyFailingTopic(sns, failed={"s-11"}, refused={"s-4"})
    use_clients(sns=topic)
    response = invoke(kinesis_event([*readings(12, anomalies=set(range(12))), reading(sensor_id="n-1")]))

    assert failed_sequence_numbers(response) == {sequence(11)}
    assert topic.calls == [10, 2]
    assert alerted(aws) == sorted(f"s-{i}" for i in range(12) if i not in (4, 11))
    stored_lines = sorted(line["sensor_id"] for line in processed_lines(aws))
    assert stored_lines == sorted([*(f"s-{i}" for i in range(11)), "n-1"])  # the refused alert's reading stays
    metrics = batch_metrics(capsys.readouterr().out)
    assert (metrics["ReadingsStored"], metrics["AnomaliesDetected"], metrics["AlertsRefused"]) == (12, 11, 1)
    assert metrics["ReadingsFailed"] == 1


def test_a_failed_publish_call_retries_the_alerts_of_that_call_only(aws: Aws, use_clients: Callable[..., None]) -> None:
    sns = boto3.client("sns", region_name=REGION)

    def publish_batch(**request: Any) -> Any:
        if len(request["PublishBatchRequestEntries"]) < 10:  # the second call
            raise client_error("ThrottledException", "PublishBatch")
        return sns.publish_batch(**request)

    use_clients(sns=wrapped(sns, publish_batch=publish_batch))
    response = invoke(kinesis_event(readings(13, anomalies=set(range(13)))))
    assert failed_sequence_numbers(response) == {sequence(10), sequence(11), sequence(12)}
    assert alerted(aws) == sorted(f"s-{i}" for i in range(10))
    assert sensor_ids(items(aws)) == {f"s-{i}" for i in range(13)}  # stored already; the retry rewrites them


# --- the webhook -------------------------------------------------------------------------------------------------


@pytest.fixture
def webhook_secret(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, str]], None]:
    def configure(secret: dict[str, str]) -> None:
        arn = boto3.client("secretsmanager", region_name=REGION).create_secret(
            Name=f"webhook-{len(secret)}-{secret.get('url', '')[-6:]}", SecretString=json.dumps(secret)
        )["ARN"]
        monkeypatch.setenv("WEBHOOK_SECRET_ARN", arn)

    return configure


def test_a_failing_webhook_is_counted_and_never_fails_a_reading(
    aws: Aws,
    webhook_secret: Callable[[dict[str, str]], None],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    webhook_secret({"url": "https://127.0.0.1:0/alerts", "token": "t"})  # port 0: the connection fails at once
    response = invoke(kinesis_event(readings(3, anomalies={1})))
    assert response == {"batchItemFailures": []}
    assert sensor_ids(items(aws)) == {"s-0", "s-1", "s-2"}
    assert alerted(aws) == ["s-1"]
    output = capsys.readouterr().out
    failures = [record["exc_info"][0].__name__ for record in logged(caplog, "alert webhook failed")]
    assert failures == ["URLError"]  # the secret was read, then the POST failed
    metrics = batch_metrics(output)
    assert metrics["WebhookFailures"] == 1
    assert batch_metrics(output, units=True)["WebhookFailures"] == "Count"
    assert (metrics["ReadingsStored"], metrics["ReadingsFailed"]) == (3, 0)


def test_a_batch_without_anomalies_never_calls_the_webhook(
    aws: Aws, webhook_secret: Callable[[dict[str, str]], None], capsys: pytest.CaptureFixture[str]
) -> None:
    webhook_secret({"url": "https://127.0.0.1:0/alerts", "token": "t"})
    assert invoke(kinesis_event(readings(2))) == {"batchItemFailures": []}
    assert "WebhookFailures" not in batch_metrics(capsys.readouterr().out)


def test_when_the_output_and_the_table_both_fail_every_record_of_either_is_retried(
    aws: Aws, use_clients: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    def batch_write_item(**request: Any) -> dict[str, Any]:
        entries = request["RequestItems"][TABLE]
        kept = [entry for entry in entries if entry["PutRequest"]["Item"]["sensor_id"]["S"] != "s-0"]
        if kept:
            aws.dynamodb.batch_write_item(RequestItems={TABLE: kept})
        return {"UnprocessedItems": {TABLE: [entry for entry in entries if entry not in kept]}}

    def put_object(**request: Any) -> Any:
        if request["Key"].startswith("processed/"):
            raise client_error("InternalError", "PutObject", status=500)
        return aws.s3.put_object(**request)

    use_clients(
        dynamodb=wrapped(aws.dynamodb, batch_write_item=batch_write_item), s3=wrapped(aws.s3, put_object=put_object)
    )
    response = invoke(kinesis_event([*readings(3), b"{broken", b"\xff"]))
    assert failed_sequence_numbers(response) == {sequence(0), sequence(1), sequence(2)}
    metrics = batch_metrics(capsys.readouterr().out)
    assert (metrics["ReadingsQuarantined"], metrics["ReadingsFailed"], metrics["ReadingsStored"]) == (2, 3, 0)


def test_the_batch_duration_is_reported_in_milliseconds(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ticks = iter([100.0, 100.25])  # perf_counter at the start and at the end of the batch, in seconds
    monkeypatch.setattr(batch, "time", SimpleNamespace(perf_counter=lambda: next(ticks)))
    invoke(kinesis_event(readings(1)))
    output = capsys.readouterr().out
    assert batch_metrics(output)["BatchDuration"] == 250
    counts = [
        *("ReadingsReceived", "AggregatesReceived", "ReadingsStored", "ReadingsQuarantined"),
        *("AnomaliesDetected", "AlertsRefused", "WritesThrottled"),
    ]
    assert batch_metrics(output, units=True) == {
        **dict.fromkeys([*counts, "ReadingsFailed"], "Count"),
        "BatchDuration": "Milliseconds",
    }
