"""The scheduled drift check's handler: its settings, when it publishes, and how much time it gives the detection."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import pytest

from services.observability.runtime import drift_handler
from services.observability.runtime.drift import DriftError, IgnoreRule, encode_rules
from services.observability.runtime.drift_handler import FINISH_SECONDS, Settings, lambda_handler, run
from services.observability.testing import RecordedCloudFormation

TOPIC = "arn:aws:sns:eu-west-1:444444444444:iot-prod-observability-OpsTopic"
RULE = IgnoreRule(
    resource_type="AWS::DynamoDB::Table",
    property_path="*/WarmThroughput/*",
    reason="DynamoDB raises a table's warm throughput by itself as its traffic grows",
)
ENVIRONMENT = {
    "STAGE_NAME": "prod",
    "STACK_NAMES": "iot-prod-ingest, iot-prod-observability",
    "TOPIC_ARN": TOPIC,
    "IGNORE_RULES": encode_rules([RULE]),
}


class RecordedTopic:
    def __init__(self) -> None:
        self.published: list[dict[str, str]] = []

    def publish(self, **message: str) -> dict[str, str]:
        self.published.append(message)
        return {"MessageId": "1"}


def test_settings_come_from_the_environment_the_stack_sets() -> None:
    settings = Settings.from_environment(ENVIRONMENT)
    assert settings == Settings(
        stage="prod", stacks=("iot-prod-ingest", "iot-prod-observability"), topic_arn=TOPIC, rules=(RULE,)
    )
    assert Settings.from_environment({**ENVIRONMENT, "IGNORE_RULES": ""}).rules == ()
    without = {name: value for name, value in ENVIRONMENT.items() if name != "IGNORE_RULES"}
    assert Settings.from_environment(without).rules == ()


@pytest.mark.parametrize("missing", ["STAGE_NAME", "STACK_NAMES", "TOPIC_ARN"])
def test_a_missing_setting_is_named(missing: str) -> None:
    with pytest.raises(DriftError, match=f"environment variable {missing} is not set"):
        Settings.from_environment({**ENVIRONMENT, missing: " "})


def test_a_bad_rule_in_the_environment_is_refused() -> None:
    with pytest.raises(DriftError, match="ignore rules are not JSON"):
        Settings.from_environment({**ENVIRONMENT, "IGNORE_RULES": "not json"})


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The check waits between reads of a detection's status; here it returns at once, noting each wait."""
    waits: list[float] = []
    monkeypatch.setattr("time.sleep", waits.append)
    return waits


def _run(
    cloudformation: RecordedCloudFormation, remaining_seconds: float = 840, stacks: str = ENVIRONMENT["STACK_NAMES"]
) -> tuple[dict[str, Any], RecordedTopic]:
    topic = RecordedTopic()
    result = run(
        Settings.from_environment({**ENVIRONMENT, "STACK_NAMES": stacks}),
        cloudformation=cast(Any, cloudformation),
        sns=cast(Any, topic),
        remaining_seconds=remaining_seconds,
    )
    return result, topic


def test_drift_is_published_to_the_ops_topic(no_waiting: list[float]) -> None:
    result, topic = _run(RecordedCloudFormation("prod-ingest-warm-throughput", "prod-observability-alarm-threshold"))
    assert result == {
        "stage": "prod",
        "published": True,
        "stacks": {"iot-prod-ingest": "in sync", "iot-prod-observability": "DRIFTED"},
    }
    (message,) = topic.published
    assert message["TopicArn"] == TOPIC
    assert message["Subject"] == "iot-prod drift check: 1 DRIFTED of 2 stacks"
    assert "/Threshold: expected 1, actual 25" in message["Message"]
    assert no_waiting == [10]  # the observability detection was in progress at the first read


def test_nothing_is_published_when_every_stack_is_in_sync() -> None:
    result, topic = _run(RecordedCloudFormation("prod-ingest-in-sync"), stacks="iot-prod-ingest")
    assert result["published"] is False
    assert topic.published == []


def test_the_detection_gets_the_invocations_time_but_the_last_minute(monkeypatch: pytest.MonkeyPatch) -> None:
    deadlines: list[float] = []

    def check_stage(*args: Any, deadline_seconds: float, **kwargs: Any) -> Any:
        deadlines.append(deadline_seconds)
        raise DriftError("stop here")

    monkeypatch.setattr(drift_handler, "check_stage", check_stage)
    for remaining in (840, FINISH_SECONDS, 5):
        with pytest.raises(DriftError):
            _run(RecordedCloudFormation(), remaining_seconds=remaining)
    assert deadlines == [840 - FINISH_SECONDS, 0, 0]


class Context:
    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def test_the_handler_wires_the_environment_and_the_sdks_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    cloudformation = RecordedCloudFormation("prod-ingest-in-sync", "prod-observability-alarm-threshold")
    topic = RecordedTopic()
    clients: Mapping[str, Any] = {"cloudformation": cloudformation, "sns": topic}
    monkeypatch.setattr("boto3.client", lambda service: clients[service])
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    result = lambda_handler({"source": "aws.scheduler"}, Context())
    assert result["published"] is True
    assert cloudformation.unanswered() == {}
    assert len(topic.published) == 1
