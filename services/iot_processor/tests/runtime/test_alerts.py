"""The alert topic's messages and batching, and the webhook's contract, without AWS."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, cast

import pytest

from services.iot_processor.runtime.alerts import AlertTopic, Webhook
from services.iot_processor.runtime.table import StoredReading, WriteOutcome, reading_key
from services.iot_processor.tests.harness import client_error, logged
from shared.readings.anomalies import Severity
from shared.readings.schema import Reading

AT = datetime(2026, 11, 27, 12, tzinfo=UTC)
TOPIC = "arn:aws:sns:eu-west-1:123456789012:alerts"


def anomaly(sensor_id: str = "s-1", *, severity: Severity = Severity.CRITICAL, **fields: Any) -> StoredReading:
    reading = Reading(
        sensor_id=sensor_id,
        sensor_type="temperature",
        value=Decimal("130.5"),
        timestamp=AT,
        reading_id=f"r-{sensor_id}",
        **fields,
    )
    return StoredReading(reading=reading, severity=severity)


class RecordingSns:
    """PublishBatch that records each request and answers from a script (a response or an error per call)."""

    def __init__(self, *script: dict[str, Any] | Exception) -> None:
        self._script = list(script)
        self.requests: list[dict[str, Any]] = []

    def publish_batch(self, **request: Any) -> dict[str, Any]:
        self.requests.append(request)
        step = self._script.pop(0) if self._script else {}
        if isinstance(step, Exception):
            raise step
        return step


def topic(client: RecordingSns) -> AlertTopic:
    return AlertTopic(client=cast(Any, client), topic_arn=TOPIC)


def test_each_alert_is_one_message_with_filterable_attributes() -> None:
    client = RecordingSns()
    assert topic(client).publish([anomaly(unit="C", site="plant-1")]) == WriteOutcome()
    ((request),) = client.requests
    assert request["TopicArn"] == TOPIC
    (entry,) = request["PublishBatchRequestEntries"]
    assert entry["Id"] == "0"
    assert entry["Subject"] == "critical temperature anomaly on s-1"
    assert json.loads(entry["Message"]) == {
        "reading_id": "r-s-1",
        "sensor_id": "s-1",
        "sensor_type": "temperature",
        "value": "130.5",
        "unit": "C",
        "timestamp": "2026-11-27T12:00:00.000Z",
        "severity": "critical",
        "site": "plant-1",
    }
    assert entry["MessageAttributes"] == {
        "sensor_type": {"DataType": "String", "StringValue": "temperature"},
        "severity": {"DataType": "String", "StringValue": "critical"},
        "sensor_id": {"DataType": "String", "StringValue": "s-1"},
        "reading_id": {"DataType": "String", "StringValue": "r-s-1"},
    }


def test_a_subject_is_cut_to_the_100_characters_sns_allows() -> None:
    client = RecordingSns()
    topic(client).publish([anomaly("x" * 128, severity=Severity.WARNING)])
    subject = client.requests[0]["PublishBatchRequestEntries"][0]["Subject"]
    assert subject == ("warning temperature anomaly on " + "x" * 128)[:100]
    assert len(subject) == 100


def test_alerts_go_ten_per_call_once_per_reading() -> None:
    client = RecordingSns()
    anomalies = [anomaly(f"s-{i}") for i in range(21)]
    assert topic(client).publish([*anomalies, anomalies[0], anomalies[20]]) == WriteOutcome()
    batches = [request["PublishBatchRequestEntries"] for request in client.requests]
    assert [len(batch) for batch in batches] == [10, 10, 1]
    assert [[entry["Id"] for entry in batch] for batch in batches][:2] == [[str(i) for i in range(10)]] * 2


def test_nothing_to_alert_makes_no_call() -> None:
    client = RecordingSns()
    assert topic(client).publish([]) == WriteOutcome()
    assert client.requests == []


def test_failed_entries_map_to_their_readings_within_each_call(caplog: pytest.LogCaptureFixture) -> None:
    anomalies = [anomaly(f"s-{i}") for i in range(13)]
    client = RecordingSns(
        {"Failed": [{"Id": "3", "Code": "InternalError", "SenderFault": False}]},
        {
            "Failed": [
                {"Id": "0", "Code": "InternalError", "SenderFault": False, "Message": "later"},
                {"Id": "2", "Code": "InvalidParameter", "SenderFault": True, "Message": "too big"},
            ]
        },
    )
    outcome = topic(client).publish(anomalies)
    key = [reading_key(stored.reading) for stored in anomalies]
    assert outcome.failed == frozenset({key[3], key[10]})
    assert dict(outcome.rejected) == {key[12]: "InvalidParameter: too big"}
    assert [record["refused"] for record in logged(caplog, "alerts refused by the topic")] == [[str(key[12])]]


def test_a_refusal_without_message_is_described_by_its_code() -> None:
    client = RecordingSns({"Failed": [{"Id": "0", "Code": "InvalidParameter", "SenderFault": True}]})
    outcome = topic(client).publish([anomaly()])
    assert list(outcome.rejected.values()) == ["InvalidParameter: "]


def test_failures_of_every_call_add_up() -> None:
    anomalies = [anomaly(f"s-{i}") for i in range(12)]
    client = RecordingSns(
        {"Failed": [{"Id": "1", "Code": "InternalError", "SenderFault": False}]},
        client_error("ThrottledException", "PublishBatch"),
    )
    outcome = topic(client).publish(anomalies)
    key = [reading_key(stored.reading) for stored in anomalies]
    assert outcome.failed == frozenset({key[1], key[10], key[11]})


def test_a_failed_call_fails_its_alerts_and_the_next_call_still_goes_out(caplog: pytest.LogCaptureFixture) -> None:
    anomalies = [anomaly(f"s-{i}") for i in range(12)]
    client = RecordingSns(client_error("ThrottledException", "PublishBatch"), {})
    outcome = topic(client).publish(anomalies)
    assert outcome.failed == frozenset(reading_key(stored.reading) for stored in anomalies[:10])
    assert dict(outcome.rejected) == {}
    assert len(client.requests) == 2
    ((alerts, error),) = [(r["alerts"], r["error"]) for r in logged(caplog, "alert publish failed")]
    assert (alerts, error) == (10, "ClientError ThrottledException: ThrottledException (injected)")
    assert logged(caplog, "alerts refused by the topic") == []


# --- the webhook -------------------------------------------------------------------------------------------------


class Response:
    def __init__(self, status: int) -> None:
        self.status = status

    def __enter__(self) -> Response:
        return self

    def __exit__(self, *_: object) -> None:
        return None


class Opener:
    def __init__(self, result: int | Exception) -> None:
        self._result = result
        self.calls: list[tuple[Any, float]] = []

    def __call__(self, request: Any, *, timeout: float) -> Response:
        self.calls.append((request, timeout))
        if isinstance(self._result, Exception):
            raise self._result
        return Response(self._result)


SECRET = {"url": "https://hooks.example.com/x", "token": "t"}


def webhook(opener: Opener, secret: Callable[[], dict[str, Any]] = lambda: SECRET, **options: Any) -> Webhook:
    return Webhook(secret_loader=secret, opener=opener, **options)


def test_the_webhook_posts_every_alert_as_json_with_the_token_and_a_timeout() -> None:
    opener = Opener(204)
    assert webhook(opener, timeout_seconds=1.5).notify([anomaly("s-1"), anomaly("s-2")]) is True
    ((request, timeout),) = opener.calls
    assert timeout == 1.5
    assert (request.full_url, request.get_method()) == ("https://hooks.example.com/x", "POST")
    assert request.headers == {"Content-type": "application/json", "Authorization": "Bearer t"}
    assert [alert["sensor_id"] for alert in json.loads(request.data)["alerts"]] == ["s-1", "s-2"]


def test_the_default_timeout_is_two_seconds_and_a_missing_token_sends_an_empty_bearer() -> None:
    opener = Opener(200)
    assert webhook(opener, secret=lambda: {"url": "https://hooks.example.com/x"}).notify([anomaly()]) is True
    ((request, timeout),) = opener.calls
    assert timeout == 2.0
    assert request.headers["Authorization"] == "Bearer "


@pytest.mark.parametrize(("status", "accepted"), [(199, False), (200, True), (299, True), (300, False), (500, False)])
def test_only_a_2xx_answer_counts_as_delivered(status: int, accepted: bool) -> None:
    assert webhook(Opener(status)).notify([anomaly()]) is accepted


@pytest.mark.parametrize("error", [TimeoutError("timed out"), OSError("connection refused"), ValueError("bad")])
def test_a_failing_webhook_reports_false_and_never_raises(error: Exception, caplog: pytest.LogCaptureFixture) -> None:
    assert webhook(Opener(error)).notify([anomaly()]) is False
    (record,) = logged(caplog, "alert webhook failed")
    assert record["exc_info"][1] is error


def test_a_secret_that_cannot_be_read_reports_false() -> None:
    def unreadable() -> dict[str, Any]:
        raise client_error("AccessDeniedException", "GetSecretValue")

    assert webhook(Opener(200), secret=unreadable).notify([anomaly()]) is False


def test_no_alerts_no_url_or_plain_http_send_nothing(caplog: pytest.LogCaptureFixture) -> None:
    def unreadable() -> dict[str, Any]:
        raise AssertionError("the secret is not read without alerts")

    opener = Opener(200)
    assert webhook(opener, secret=unreadable).notify([]) is True
    assert webhook(opener, secret=lambda: {"url": ""}).notify([anomaly()]) is True
    assert webhook(opener, secret=lambda: {}).notify([anomaly()]) is True
    assert logged(caplog, "alert webhook ignored: the URL must use https") == []
    assert webhook(opener, secret=lambda: {"url": "http://hooks.example.com/x"}).notify([anomaly()]) is False
    assert opener.calls == []
    assert len(logged(caplog, "alert webhook ignored: the URL must use https")) == 1
