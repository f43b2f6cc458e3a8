"""The handler on moto: a hostile record or a failing write settles its own record and never the batch.

Each test says exactly which records are reported for retry: only those whose write failed for a reason a retry
can cure (or no item's fault); an item a service refuses for its content is quarantined, never retried.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError

from services.iot_processor.runtime import batch
from services.iot_processor.tests.harness import (
    Aws,
    alerts,
    client_error,
    failed_sequence_numbers,
    invoke,
    items,
    objects,
    quarantined,
    reading,
    sensor_ids,
)
from services.iot_processor.tests.hostile_corpus import HOSTILE
from shared.readings.anomalies import severity_of
from shared.readings.schema import Reason
from shared.synthetic.kinesis_events import kinesis_event

VALID_SENSORS = [f"s-{index}" for index in range(6)]
FIRST_SEQUENCE = 1000  # kinesis_event numbers the records from here


def test_every_hostile_record_is_quarantined_with_its_reason_and_every_valid_neighbour_stored(aws: Aws) -> None:
    """One batch: each class of the corpus between three valid readings on either side, all in one invocation."""
    records: list[bytes] = []
    expected_reasons: dict[str, Reason] = {}
    valid_sensors: set[str] = set()
    for group, (data, reason) in enumerate(HOSTILE.values()):
        neighbours = [f"s-{group}-{index}" for index in range(6)]
        valid = [reading(sensor_id=sensor) for sensor in neighbours]
        expected_reasons[str(FIRST_SEQUENCE + len(records) + 3)] = reason
        records += [*valid[:3], data, *valid[3:]]
        valid_sensors.update(neighbours)
    assert invoke(kinesis_event(records)) == {"batchItemFailures": []}
    assert sensor_ids(items(aws)) == valid_sensors
    assert {document["sequence_number"]: document["reason"] for document in quarantined(aws)} == expected_reasons


def test_an_unexpected_error_judging_one_record_quarantines_it_as_unprocessable(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    def severity_failing_on_s_2(reading: Any, bounds: Any) -> Any:
        if reading.sensor_id == "s-2":
            raise ZeroDivisionError("injected")
        return severity_of(reading, bounds)

    monkeypatch.setattr(batch, "severity_of", severity_failing_on_s_2)
    assert invoke(kinesis_event([reading(sensor_id=sensor) for sensor in VALID_SENSORS])) == {"batchItemFailures": []}
    assert sensor_ids(items(aws)) == set(VALID_SENSORS) - {"s-2"}
    (document,) = quarantined(aws)
    assert document["reason"] == "unprocessable"
    assert document["detail"].startswith("ZeroDivisionError: injected")
    assert document["sequence_number"] == "1002"


class RefusingDynamoDB:
    """The moto client, but BatchWriteItem fails with ``error`` while the request holds ``sensor`` (or always)."""

    def __init__(self, client: Any, error: Exception, *, sensor: str | None = None, times: int | None = None) -> None:
        self._client = client
        self._error = error
        self._sensor = sensor
        self._times = times
        self.calls = 0

    def batch_write_item(self, **kwargs: Any) -> Any:
        self.calls += 1
        (requests,) = kwargs["RequestItems"].values()
        holds_sensor = self._sensor is None or self._sensor in sensor_ids([r["PutRequest"]["Item"] for r in requests])
        if holds_sensor and (self._times is None or self._times > 0):
            if self._times is not None:
                self._times -= 1
            raise self._error
        return self._client.batch_write_item(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def test_an_item_the_table_refuses_is_quarantined_and_its_chunk_stored(
    aws: Aws, use_clients: Callable[..., None]
) -> None:
    refusing = RefusingDynamoDB(aws.dynamodb, client_error("ValidationException", "BatchWriteItem"), sensor="s-7")
    use_clients(dynamodb=refusing)
    response = invoke(kinesis_event([reading(sensor_id=f"s-{index}") for index in range(30)]))
    assert response == {"batchItemFailures": []}
    assert sensor_ids(items(aws)) == {f"s-{index}" for index in range(30)} - {"s-7"}
    (document,) = quarantined(aws)
    assert (document["reason"], document["sequence_number"]) == ("rejected_by_store", "1007")
    assert "ValidationException" in document["detail"]
    assert refusing.calls == 1 + 25 + 1  # the refused chunk, then one request per item of it, then the 5 others


def test_a_table_that_refuses_every_request_fails_the_readings_and_still_quarantines(
    aws: Aws, use_clients: Callable[..., None]
) -> None:
    refusing = RefusingDynamoDB(aws.dynamodb, client_error("AccessDeniedException", "BatchWriteItem"))
    use_clients(dynamodb=refusing)
    response = invoke(kinesis_event([reading(sensor_id="s-0"), b"not json", reading(sensor_id="s-1")]))
    assert failed_sequence_numbers(response) == {"1000", "1002"}  # no item's fault: retried, then the failure bucket
    assert items(aws) == []
    assert [document["reason"] for document in quarantined(aws)] == ["not_json"]
    assert refusing.calls == 1  # a permission error is not retried in the loop


def test_a_dropped_connection_is_retried_like_throttling(aws: Aws, use_clients: Callable[..., None]) -> None:
    error = EndpointConnectionError(endpoint_url="https://dynamodb.eu-west-1.amazonaws.com")
    use_clients(dynamodb=RefusingDynamoDB(aws.dynamodb, error, times=2))
    assert invoke(kinesis_event([reading(sensor_id=sensor) for sensor in VALID_SENSORS])) == {"batchItemFailures": []}
    assert sensor_ids(items(aws)) == set(VALID_SENSORS)


def test_a_table_failing_past_the_retries_reports_exactly_its_readings(
    aws: Aws, use_clients: Callable[..., None]
) -> None:
    unavailable = client_error("InternalServerError", "BatchWriteItem", status=500)
    refusing = RefusingDynamoDB(aws.dynamodb, unavailable, sensor="s-25")
    use_clients(dynamodb=refusing)
    response = invoke(kinesis_event([reading(sensor_id=f"s-{index}") for index in range(30)]))
    assert failed_sequence_numbers(response) == {str(1000 + index) for index in range(25, 30)}
    assert len(items(aws)) == 25
    assert refusing.calls == 1 + 6  # the first chunk, then every attempt at the second


class FailingPublisher:
    """The moto SNS client, but PublishBatch reports the entries of ``sensors`` as failed, with ``sender_fault``."""

    def __init__(self, client: Any, *, sensors: set[str], sender_fault: bool) -> None:
        self._client = client
        self._sensors = sensors
        self._sender_fault = sender_fault

    def publish_batch(self, **kwargs: Any) -> Any:
        entries = kwargs["PublishBatchRequestEntries"]
        failing = [e for e in entries if e["MessageAttributes"]["sensor_id"]["StringValue"] in self._sensors]
        passing = [e for e in entries if e not in failing]
        response = self._client.publish_batch(**{**kwargs, "PublishBatchRequestEntries": passing}) if passing else {}
        failed = [
            {"Id": e["Id"], "Code": "InvalidParameter", "Message": "injected", "SenderFault": self._sender_fault}
            for e in failing
        ]
        return {"Successful": response.get("Successful", []), "Failed": failed}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def anomalies_of(*sensors: str) -> list[bytes]:
    return [reading(sensor_id=sensor, value=130) for sensor in sensors]


def test_an_alert_failing_in_the_service_retries_only_its_reading(aws: Aws, use_clients: Callable[..., None]) -> None:
    use_clients(sns=FailingPublisher(aws.sns, sensors={"a-1"}, sender_fault=False))
    response = invoke(kinesis_event(anomalies_of("a-0", "a-1", "a-2")))
    assert failed_sequence_numbers(response) == {"1001"}
    assert {alert["MessageAttributes"]["sensor_id"]["StringValue"] for alert in alerts(aws)} == {"a-0", "a-2"}


def test_an_alert_refused_for_its_content_is_not_retried(aws: Aws, use_clients: Callable[..., None]) -> None:
    use_clients(sns=FailingPublisher(aws.sns, sensors={"a-1"}, sender_fault=True))
    response = invoke(kinesis_event(anomalies_of("a-0", "a-1", "a-2")))
    assert response == {"batchItemFailures": []}
    assert sensor_ids(items(aws)) == {"a-0", "a-1", "a-2"}  # stored and flagged; only the message is missing
    assert len(objects(aws, "processed/")) == 1


def test_a_batch_whose_every_record_fails_is_reported_not_raised(aws: Aws, use_clients: Callable[..., None]) -> None:
    use_clients(dynamodb=RefusingDynamoDB(aws.dynamodb, client_error("ThrottlingException", "BatchWriteItem")))
    response = invoke(kinesis_event([reading(sensor_id=sensor) for sensor in VALID_SENSORS]))
    assert failed_sequence_numbers(response) == {str(1000 + index) for index in range(len(VALID_SENSORS))}


def test_a_retried_batch_alerts_again_with_the_same_ids(aws: Aws) -> None:
    event = kinesis_event([*anomalies_of("a-0", "a-1"), reading(sensor_id="n-0")])
    invoke(event)
    first = alerts(aws)
    invoke(event)  # Kinesis re-sends the batch after a failure later in it
    second = alerts(aws)
    ids = [
        sorted(
            (a["MessageAttributes"]["sensor_id"]["StringValue"], a["MessageAttributes"]["reading_id"]["StringValue"])
            for a in delivered
        )
        for delivered in (first, second)
    ]
    assert len(ids[0]) == 2
    assert ids[0] == ids[1]


def test_a_value_more_precise_than_dynamodb_is_stored_rounded_to_38_digits(aws: Aws) -> None:
    precise = "21.123456789012345678901234567890123456789012345"
    event = kinesis_event([reading(sensor_id="p-1").replace(b"21.5", precise.encode())])
    assert invoke(event) == {"batchItemFailures": []}
    (item,) = items(aws)
    assert item["value"] == {"N": "21.123456789012345678901234567890123457"}
