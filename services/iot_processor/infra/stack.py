"""Ingest service stack: composes the stream, storage, alerts, processor and smoke-test access of one stage."""

from __future__ import annotations

from typing import Any

from constructs import Construct

from services.iot_processor import contract
from services.iot_processor.config import IngestConfig, MqttConfig, RollbackThresholds
from services.iot_processor.contract import SHARED_OUTPUTS, Output, SharedKey
from services.iot_processor.infra.alerts import AnomalyAlerts
from services.iot_processor.infra.compliance import acknowledge_findings, acknowledge_mqtt_findings
from services.iot_processor.infra.deployment import ProgressiveDeployment
from services.iot_processor.infra.mqtt import MqttFrontDoor, device_topic
from services.iot_processor.infra.processor import ProcessorFunction
from services.iot_processor.infra.smoke_test_access import SmokeTestAccess
from services.iot_processor.infra.storage import ReadingsStorage
from services.iot_processor.infra.stream import ReadingsStream
from shared.environment import StageEnvironment
from shared.infra.naming import device_policy_name, smoke_test_role_name, topic_rule_name
from shared.infra.service import ServiceIdentity, ServiceStack

SMOKE_TEST_DEVICE = "smoke-test"  # the device name the smoke test publishes as


class IngestStack(ServiceStack):
    SERVICE = ServiceIdentity(name=contract.SERVICE, owner_team=contract.OWNER_TEAM)

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        environment: StageEnvironment,
        config: IngestConfig,
        rollback: RollbackThresholds,
        smoke_test_account: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            environment=environment,
            description="readings stream, processor, table, alerts",
            **kwargs,
        )
        ingest, removal = config, self.removal_policy
        readings = ReadingsStream(self, "Readings", config=ingest, removal_policy=removal)
        storage = ReadingsStorage(
            self, "Storage", config=ingest, removal_policy=removal, production=environment.is_production
        )
        alerts = AnomalyAlerts(
            self, "Alerts", encryption_key=storage.key, emails=ingest.alert_emails, removal_policy=removal
        )
        processor = ProcessorFunction(
            self, "Processor", config=ingest, readings=readings, storage=storage, alerts=alerts, removal_policy=removal
        )
        deployment = ProgressiveDeployment(
            self,
            "Deployment",
            stage=environment.name,
            alias=processor.alias,
            traffic_shift=config.traffic_shift,
            thresholds=rollback,
        )
        smoke = SmokeTestAccess(
            self,
            "SmokeTest",
            role_name=smoke_test_role_name(environment.name),
            trusted_account=smoke_test_account,
            readings=readings,
            storage=storage,
            alerts=alerts,
            removal_policy=removal,
        )
        for key, value, description in (
            (SharedKey.STREAM_ARN, readings.stream.stream_arn, "ARN of the readings stream"),
            (SharedKey.STREAM_NAME, readings.stream.stream_name, "Readings stream producers put to"),
            (SharedKey.STREAM_KEY_ARN, readings.key.key_arn, "KMS key of the readings stream"),
            (SharedKey.FUNCTION_NAME, processor.function.function_name, "Processor Lambda"),
            (SharedKey.TABLE_NAME, storage.table.table_name, "Readings table"),
            (SharedKey.PROCESSED_BUCKET_NAME, storage.processed_bucket.bucket_name, "Processed output and quarantine/"),
            (SharedKey.FAILURE_BUCKET_NAME, storage.failure_bucket.bucket_name, "Batches that failed after retries"),
            (
                SharedKey.EVENT_SOURCE_MAPPING_ID,
                processor.event_source.event_source_mapping_id,
                "The processor's event source mapping (its metrics' EventSourceMappingUUID)",
            ),
        ):
            self.share(key, value, description, output=SHARED_OUTPUTS[key])
        self.output(
            Output.ALERT_TOPIC_ARN, alerts.topic.topic_arn, "Anomaly alerts (attributes: sensor_type, severity)"
        )
        self.output(Output.WEBHOOK_SECRET_ARN, alerts.webhook_secret.secret_arn, "Alert webhook url and token")
        self.output(Output.SMOKE_TEST_ROLE_ARN, smoke.role.role_arn, "Role the smoke test assumes")
        self.output(Output.ALERT_INBOX_URL, smoke.alert_inbox.queue_url, "Queue receiving the smoke tests' alerts only")
        acknowledge_findings(
            readings=readings, storage=storage, alerts=alerts, processor=processor, smoke=smoke, deployment=deployment
        )
        if ingest.mqtt.enabled:
            self._add_mqtt_front_door(ingest.mqtt, readings=readings, storage=storage, smoke=smoke)

    def _add_mqtt_front_door(
        self, config: MqttConfig, *, readings: ReadingsStream, storage: ReadingsStorage, smoke: SmokeTestAccess
    ) -> None:
        policy_name = device_policy_name(self.stage_environment.name)
        mqtt = MqttFrontDoor(
            self,
            "Mqtt",
            config=config,
            rule_name=topic_rule_name(self.stage_environment.name),
            device_policy_name=policy_name,
            readings=readings,
            storage=storage,
        )
        mqtt.grant_publish(smoke.role, device=SMOKE_TEST_DEVICE)
        self.output(Output.MQTT_TOPIC_FILTER, mqtt.topic_filter, "Devices publish readings here (AWS IoT Core)")
        self.output(
            Output.MQTT_SMOKE_TEST_TOPIC, device_topic(mqtt.topic_filter, SMOKE_TEST_DEVICE), "The smoke test's topic"
        )
        self.output(Output.MQTT_DEVICE_POLICY_NAME, policy_name, "IoT policy to attach to device certificates")
        acknowledge_mqtt_findings(mqtt=mqtt, storage=storage, smoke=smoke)
