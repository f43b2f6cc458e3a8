"""Replaying the MQTT topic rule's errors: its error action writes them beside Lambda's failed batches."""

from __future__ import annotations

import base64
import json

import pytest

from shared.infra.naming import MQTT_ERROR_PREFIX
from tools.operations.replay import main
from tools.operations.tests.stage import FAILURE_ARGS, FAILURES, Aws, failure_document, reading, stream_records

TOPIC = "sensors/boiler-17/readings"


def rule_error(payload: bytes, *, topic: str = TOPIC) -> bytes:
    """IoT Core's error action message: the rule, the topic, the client, the payload in base64, the failures."""
    return json.dumps(
        {
            "ruleName": "iot_dev_readings",
            "topic": topic,
            "cloudwatchTraceId": "3f0c3e6e-trace",
            "clientId": "boiler-17",
            "base64OriginalPayload": base64.b64encode(payload).decode(),
            "failures": [
                {
                    "failedAction": "KinesisAction",
                    "failedResource": "iot-dev-ingest-readings",
                    "errorMessage": "Failed to put record. Rate exceeded for shard.",
                }
            ],
        }
    ).encode()


def test_messages_the_rule_could_not_put_are_replayed_keyed_by_topic(
    aws: Aws,
    capsys: pytest.CaptureFixture[str],
) -> None:
    lost = reading("boiler-17", "2026-11-27T13:20:00Z")
    batch = [(reading("pump-7", "2026-11-27T13:21:00Z"), "pump-7")]
    aws.s3.put_object(Bucket=FAILURES, Key=f"{MQTT_ERROR_PREFIX}2026/11/27/a.json", Body=rule_error(lost))
    aws.s3.put_object(Bucket=FAILURES, Key="aws/lambda/esm/batch-0", Body=json.dumps(failure_document(batch)).encode())

    assert main(FAILURE_ARGS) == 0

    assert sorted(stream_records(aws)) == sorted([*batch, (lost, TOPIC)])
    assert "readings found                 2" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"not json", "Expecting value"),
        (json.dumps({"topic": TOPIC}).encode(), "base64OriginalPayload"),
        (json.dumps({"topic": TOPIC, "base64OriginalPayload": "not base64!"}).encode(), "Only base64 data is allowed"),
        (rule_error(b"{}", topic=""), "topic ''"),
        (rule_error(b"{}", topic="t" * 257), "topic 'ttt"),
    ],
)
def test_an_unreadable_rule_error_is_reported_and_fails_the_replay(
    aws: Aws,
    capsys: pytest.CaptureFixture[str],
    body: bytes,
    problem: str,
) -> None:
    aws.s3.put_object(Bucket=FAILURES, Key=f"{MQTT_ERROR_PREFIX}bad.json", Body=body)
    assert main(FAILURE_ARGS) == 1
    out = capsys.readouterr().out
    assert f"{MQTT_ERROR_PREFIX}bad.json: not a topic rule error with a payload" in out
    assert problem in out
    assert stream_records(aws) == []
