"""The smoke test's MQTT leg on moto: what it publishes, where it finds the topic, and when it passes or fails."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, Final

import boto3
import pytest
from moto import mock_aws
from moto.iotdata.models import iotdata_backends

from shared.readings.schema import parse_reading
from shared.synthetic.readings import SyntheticRecord, synthetic_records
from tools.landing.locate import Landing
from tools.landing.producers import Sent
from tools.landing.targets import Targets
from tools.landing.testing import create_landing, stored_item
from tools.steps import smoke_mqtt

REGION: Final = "eu-west-1"
ACCOUNT: Final = "123456789012"  # moto's
TOPIC: Final = "sensors/smoke-test/readings"


@pytest.fixture
def targets(monkeypatch: pytest.MonkeyPatch) -> Iterator[Targets]:
    for name, value in {"AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}.items():
        monkeypatch.setenv(name, value)
    # moto serves the data plane on the generic host only, not on the account endpoint AWS hands out
    monkeypatch.setattr(smoke_mqtt, "data_endpoint", lambda _: f"data-ats.iot.{REGION}.amazonaws.com")
    with mock_aws():
        yield create_landing(region=REGION)


def _published() -> list[tuple[str, bytes]]:
    return list(iotdata_backends[ACCOUNT][REGION].published_payloads)


def _store(table: str, payloads: Sequence[bytes]) -> None:
    """What the topic rule and the processor would do with each published reading."""
    for payload in payloads:
        reading = parse_reading(payload, now=datetime.now(UTC))
        boto3.client("dynamodb").put_item(TableName=table, Item=stored_item(reading))


def test_the_data_endpoint_is_the_accounts_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():  # moto makes up a new account endpoint on every call; its shape is what can be checked
        assert smoke_mqtt.data_endpoint(boto3.Session()).endswith(f"-ats.iot.{REGION}.amazonaws.com")


def test_each_reading_is_published_as_one_message_on_the_topic(targets: Targets) -> None:
    records = synthetic_records(3, run_id="unit", now=datetime.now(UTC), anomaly_share=0, invalid_share=0)
    sent = smoke_mqtt.publish(boto3.Session(), TOPIC, records)
    assert _published() == [(TOPIC, record.data) for record in records]
    assert [s.record for s in sent] == records


def test_the_leg_passes_when_every_published_reading_reaches_the_table(
    targets: Targets, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish = smoke_mqtt.publish

    def publish_then_process(session: Any, topic: str, records: Sequence[SyntheticRecord]) -> list[Sent]:
        sent = publish(session, topic, records)
        _store(targets.table_name, [payload for _, payload in _published()])
        return sent

    monkeypatch.setattr(smoke_mqtt, "publish", publish_then_process)
    text, ok = smoke_mqtt.check_mqtt(boto3.Session(), targets, topic=TOPIC, run_id="unit", count=5, timeout=0)
    assert ok, text
    assert "published through MQTT             5   on sensors/smoke-test/readings" in text
    assert "  in readings table                5" in text


def test_the_leg_fails_naming_each_reading_that_did_not_reach_the_table(
    targets: Targets, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish = smoke_mqtt.publish

    def publish_then_lose_one(session: Any, topic: str, records: Sequence[SyntheticRecord]) -> list[Sent]:
        sent = publish(session, topic, records)
        _store(targets.table_name, [payload for _, payload in _published()][1:])
        return sent

    monkeypatch.setattr(smoke_mqtt, "publish", publish_then_lose_one)
    text, ok = smoke_mqtt.check_mqtt(boto3.Session(), targets, topic=TOPIC, run_id="unit", count=4, timeout=0)
    assert not ok
    lost = json.loads(_published()[0][1])["reading_id"]
    assert f"missing from the table: reading {lost}" in text
    assert "  in readings table                3" in text


def test_the_topic_comes_from_the_pipelines_environment(targets: Targets) -> None:
    """The pipeline passes the ingest stack's MqttSmokeTestTopic output as INGEST_MQTTSMOKETESTTOPIC."""
    assert smoke_mqtt.smoke_topic(None, stage=None, environment={"INGEST_MQTTSMOKETESTTOPIC": TOPIC}) == TOPIC
    assert smoke_mqtt.smoke_topic(None, stage=None, environment={"INGEST_MQTTSMOKETESTTOPIC": ""}) is None
    assert smoke_mqtt.smoke_topic(None, stage=None, environment={"INGEST_STREAMNAME": "readings"}) is None


def _ingest_stack(outputs: dict[str, str]) -> None:
    template = {
        "Resources": {"Nothing": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    boto3.client("cloudformation").create_stack(StackName="iot-dev-ingest", TemplateBody=json.dumps(template))


def test_the_topic_comes_from_the_ingest_stacks_output(targets: Targets) -> None:
    _ingest_stack({"MqttSmokeTestTopic": TOPIC, "StreamName": "readings"})
    assert smoke_mqtt.smoke_topic(boto3.Session(), stage="dev", environment=None) == TOPIC


def test_a_stage_without_the_front_door_publishes_nothing_and_passes(
    targets: Targets, capsys: pytest.CaptureFixture[str]
) -> None:
    _ingest_stack({"StreamName": "readings"})
    assert smoke_mqtt.mqtt_leg(boto3.Session(), targets, stage="dev", environment=None, run_id="unit")
    assert "no MQTT front door" in capsys.readouterr().out
    assert _published() == []


def test_without_a_stage_or_the_pipelines_variables_there_is_nowhere_to_look(targets: Targets) -> None:
    with pytest.raises(ValueError, match="needs a stage or the pipeline's variables"):
        smoke_mqtt.smoke_topic(boto3.Session(), stage=None, environment=None)


@pytest.mark.parametrize(("stored_from", "passes"), [(0, True), (1, False)])
def test_where_the_stage_has_the_front_door_the_leg_prints_its_result_and_passes_only_if_all_landed(
    targets: Targets,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    stored_from: int,
    passes: bool,
) -> None:
    publish = smoke_mqtt.publish

    def publish_then_process(session: Any, topic: str, records: Sequence[SyntheticRecord]) -> list[Sent]:
        sent = publish(session, topic, records)
        _store(targets.table_name, [payload for _, payload in _published()][stored_from:])
        return sent

    monkeypatch.setattr(smoke_mqtt, "publish", publish_then_process)
    monkeypatch.setattr(smoke_mqtt, "TIMEOUT_SECONDS", 0)
    environment = {"INGEST_MQTTSMOKETESTTOPIC": TOPIC}
    assert smoke_mqtt.mqtt_leg(boto3.Session(), targets, stage=None, environment=environment, run_id="r") is passes
    out = capsys.readouterr().out
    assert f"{'published through MQTT':<28}{20:>8}   on {TOPIC}" in out
    assert f"{'  mqtt result':<28}{'PASS' if passes else 'FAIL':>8}" in out
    assert all(json.loads(payload)["synthetic_run"] == "r-mqtt" for _, payload in _published())


def test_the_leg_publishes_only_valid_ordinary_readings_of_its_own_run(
    targets: Targets, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A published message has no stream position, so the leg can only find readings the table stores: no invalid
    reading, and no anomaly, whose alert it could not match either."""
    monkeypatch.setattr(smoke_mqtt, "wait_for_landing", lambda *_, **__: Landing())
    smoke_mqtt.check_mqtt(boto3.Session(), targets, topic=TOPIC, run_id="run-7", count=200, timeout=0)
    published = [json.loads(payload) for _, payload in _published()]
    assert len(published) == 200
    assert {document["synthetic_run"] for document in published} == {"run-7-mqtt"}
    for _, payload in _published():
        reading = parse_reading(payload, now=datetime.now(UTC))
        assert not stored_item(reading)["anomaly"]["BOOL"]


def test_the_leg_names_at_most_twenty_missing_readings(targets: Targets, capsys: pytest.CaptureFixture[str]) -> None:
    text, ok = smoke_mqtt.check_mqtt(boto3.Session(), targets, topic=TOPIC, run_id="r", count=25, timeout=0)
    assert not ok
    lines = text.splitlines()
    assert lines[:3] == [
        f"{'published through MQTT':<28}{25:>8}   on {TOPIC}",
        f"{'  in readings table':<28}{0:>8}",
        f"{'  mqtt result':<28}{'FAIL':>8}",
    ]
    assert len(lines) == 3 + 20
    assert all(line.startswith("  missing from the table: reading r-mqtt-") for line in lines[3:])
