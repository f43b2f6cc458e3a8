"""What the processor must never write to its logs or metrics: a record's payload, or the webhook's secret.

A detail may quote an offending value up to the contract's DETAIL_LIMIT; nothing else of a record is echoed, so a
device's data never reaches a log group with looser access than the table. Each record below carries a marker far
longer than that limit, in a different place; the webhook's token is in its URL and its header, and the webhook fails.
"""

from __future__ import annotations

import json
import logging
import uuid

import boto3
import pytest

from services.iot_processor.tests.harness import REGION, Aws, invoke, reading
from shared.readings.schema import DETAIL_LIMIT
from shared.synthetic.kinesis_events import kinesis_event
from shared.synthetic.kpl import kpl_record

MARKER = "ECHO-" + "q7" * DETAIL_LIMIT  # twice the limit: whatever is quoted of it, not all of it
TOKEN = f"token-{uuid.uuid4().hex}"  # pragma: allowlist secret (a test value)


def records() -> list[bytes]:
    return [
        reading(sensor_id=MARKER),  # too long a sensor id
        reading(sensor_id="s-1", value=MARKER),  # a text where a number belongs
        reading(sensor_id="s-2", **{MARKER[:60]: 1}),  # an unknown field
        reading(sensor_id="s-3", unit=MARKER),  # a text field too long
        f'{{"sensor_id": "{MARKER}", "value": '.encode(),  # not JSON
        MARKER.encode() + b"\xff\xfe",  # not UTF-8
        MARKER.encode(),  # neither JSON nor a reading
        kpl_record([("pk", reading(sensor_id=MARKER)), ("pk", reading(sensor_id="s-4", value=130))]),
        reading(sensor_id="s-5", value=130, note=MARKER[:20]),  # an anomaly: the failing webhook is called
    ]


@pytest.fixture
def failing_webhook(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = {"url": f"https://127.0.0.1:0/alerts?key={TOKEN}", "token": TOKEN}
    arn = boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name="webhook-no-echo", SecretString=json.dumps(secret)
    )["ARN"]
    monkeypatch.setenv("WEBHOOK_SECRET_ARN", arn)


def test_no_log_line_or_metric_echoes_a_payload_beyond_the_detail_limit_or_the_secret_at_all(
    aws: Aws,
    failing_webhook: None,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)  # the level the function logs at (infra/processor.py), botocore included
    response = invoke(kinesis_event(records()))
    assert response == {"batchItemFailures": []}  # every record settled: stored or quarantined
    captured = capsys.readouterr()
    written = "\n".join([captured.out, captured.err, caplog.text, *(_formatted(r) for r in caplog.records)])
    assert "alert webhook failed" in written  # the webhook was called, and failed, with the token at hand
    assert TOKEN not in written
    assert MARKER[: DETAIL_LIMIT + 1] not in written
    assert MARKER[: DETAIL_LIMIT // 2] in written  # a detail may quote up to the limit, and here one does


def _formatted(record: logging.LogRecord) -> str:
    """Every field of a log record, extras and the exception's traceback included."""
    fields = {key: str(value) for key, value in vars(record).items() if key not in ("args", "msg")}
    return (
        record.getMessage()
        + json.dumps(fields)
        + (logging.Formatter().formatException(record.exc_info) if record.exc_info else "")
    )
