"""The smoke test's MQTT leg: publish readings through AWS IoT Core as the smoke-test device, find them stored.

Where a stage has the MQTT front door, its ingest stack outputs ``MqttSmokeTestTopic``, the topic of the
device ``smoke-test``. The readings are published there through IoT Core's data plane (HTTPS, with the
smoke-test role, which may publish on that topic only); the stage's topic rule puts them on the stream, and
each must then be in the readings table. A published message has no stream position that the publisher can
know, so only valid readings are sent, and they are found by their table keys.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from services.iot_processor import contract as ingest
from shared.infra.naming import output_variable
from shared.synthetic.readings import SyntheticRecord, synthetic_records
from tools.landing.locate import Checks, missing, wait_for_landing
from tools.landing.producers import Sent
from tools.landing.targets import Targets, stack_outputs

TOPIC_OUTPUT = ingest.Output.MQTT_SMOKE_TEST_TOPIC
TOPIC_VARIABLE = output_variable(ingest.SERVICE, TOPIC_OUTPUT)
NO_POSITION = ""  # the shard and sequence number of a published reading: unknown to the publisher
READINGS = 20
TIMEOUT_SECONDS = 300


def mqtt_leg(
    session: Any, targets: Targets, *, stage: str | None, environment: Mapping[str, str] | None, run_id: str
) -> bool:
    """Run the MQTT leg where the stage has the front door, print its result; True if it passed or is absent."""
    topic = smoke_topic(session, stage=stage, environment=environment)
    if topic is None:
        print("mqtt: the stage has no MQTT front door; nothing published")
        return True
    text, ok = check_mqtt(session, targets, topic=topic, run_id=run_id, count=READINGS, timeout=TIMEOUT_SECONDS)
    print(text)
    return ok


def smoke_topic(session: Any, *, stage: str | None, environment: Mapping[str, str] | None) -> str | None:
    """The smoke-test device's topic, or None where the stage has no MQTT front door."""
    if environment is not None:
        return environment.get(TOPIC_VARIABLE) or None
    if stage is None:
        raise ValueError("the MQTT leg needs a stage or the pipeline's variables")
    return stack_outputs(session, stage, ingest.SERVICE).get(TOPIC_OUTPUT)


def data_endpoint(session: Any) -> str:
    """The account's IoT data endpoint (``<id>-ats.iot.<region>.amazonaws.com``), where HTTPS publishes go."""
    return str(session.client("iot").describe_endpoint(endpointType="iot:Data-ATS")["endpointAddress"])


def publish(session: Any, topic: str, records: Sequence[SyntheticRecord]) -> list[Sent]:
    """Publish each record's bytes as one MQTT message (QoS 1) on ``topic`` through IoT Core's data plane."""
    data_plane = session.client("iot-data", endpoint_url=f"https://{data_endpoint(session)}")
    sent = []
    for record in records:
        data_plane.publish(topic=topic, qos=1, payload=record.data)
        sent.append(Sent(record=record, shard_id=NO_POSITION, sequence_number=NO_POSITION, put_at=time.time()))
    return sent


def check_mqtt(
    session: Any, targets: Targets, *, topic: str, run_id: str, count: int, timeout: float
) -> tuple[str, bool]:
    """Publish ``count`` valid readings on ``topic`` and wait until every one is in the readings table."""
    records = synthetic_records(count, run_id=f"{run_id}-mqtt", now=datetime.now(UTC), anomaly_share=0, invalid_share=0)
    sent = publish(session, topic, records)
    landing = wait_for_landing(session, targets, sent, checks=Checks(), timeout=timeout)
    absent = missing(sent, landing, checks=Checks())
    ok = not absent and not landing.problems
    lines = [
        f"{'published through MQTT':<28}{len(sent):>8}   on {topic}",
        f"{'  in readings table':<28}{len(sent) - len(absent):>8}",
        f"{'  mqtt result':<28}{'PASS' if ok else 'FAIL':>8}",
    ]
    lines += [f"  missing from the table: reading {sent[index].record.reading_id}" for index in sorted(absent)[:20]]
    return "\n".join(lines), ok
