"""Ingest service stack: composes the stream, storage, alerts, processor and smoke-test access of one stage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from constructs import Construct

from services.ingest.infra.alerts import AnomalyAlerts
from services.ingest.infra.compliance import acknowledge_findings, acknowledge_mqtt_findings
from services.ingest.infra.deployment import ProgressiveDeployment
from services.ingest.infra.mqtt import MqttFrontDoor, device_topic
from services.ingest.infra.processor import METRICS_NAMESPACE, METRICS_SERVICE, ProcessorFunction
from services.ingest.infra.smoke_test_access import SmokeTestAccess
from services.ingest.infra.storage import ReadingsStorage
from services.ingest.infra.stream import ReadingsStream
from shared.infra.naming import device_policy_name, smoke_test_role_name, topic_rule_name
from shared.infra.service import ServiceIdentity, ServiceStack, SharedValue
from stages.config import StageConfig

SMOKE_TEST_DEVICE = "smoke-test"  # the device name the smoke test publishes as


@dataclass(frozen=True, kw_only=True)
class IngestSharedValues:
    """What the other stacks of the stage read from this one."""

    stream_arn: SharedValue
    stream_name: SharedValue
    stream_key_arn: SharedValue
    function_name: SharedValue
    table_name: SharedValue
    processed_bucket_name: SharedValue
    failure_bucket_name: SharedValue


class IngestStack(ServiceStack):
    SERVICE = ServiceIdentity(name="ingest", owner_team="iot-ingest")

    def __init__(
        self, scope: Construct, construct_id: str, *, config: StageConfig, smoke_test_account: str, **kwargs: Any
    ) -> None:
        super().__init__(
            scope, construct_id, config=config, description="readings stream, processor, table, alerts", **kwargs
        )
        ingest, removal = config.ingest, self.removal_policy
        readings = ReadingsStream(self, "Readings", config=ingest, removal_policy=removal)
        storage = ReadingsStorage(
            self, "Storage", config=ingest, removal_policy=removal, production=config.is_production
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
            stage=config.name,
            alias=processor.alias,
            traffic_shift=config.delivery.traffic_shift,
            thresholds=config.observability,
            metrics_namespace=METRICS_NAMESPACE,
            metrics_service=METRICS_SERVICE,
        )
        smoke = SmokeTestAccess(
            self,
            "SmokeTest",
            role_name=smoke_test_role_name(config.name),
            trusted_account=smoke_test_account,
            readings=readings,
            storage=storage,
            alerts=alerts,
            removal_policy=removal,
        )
        self.shared_values = IngestSharedValues(
            stream_arn=self.share("stream-arn", readings.stream.stream_arn, "ARN of the readings stream"),
            stream_name=self.share("stream-name", readings.stream.stream_name, "Readings stream producers put to"),
            stream_key_arn=self.share("stream-key-arn", readings.key.key_arn, "KMS key of the readings stream"),
            function_name=self.share("function-name", processor.function.function_name, "Processor Lambda"),
            table_name=self.share("table-name", storage.table.table_name, "Readings table"),
            processed_bucket_name=self.share(
                "processed-bucket-name", storage.processed_bucket.bucket_name, "Processed output and quarantine/"
            ),
            failure_bucket_name=self.share(
                "failure-bucket-name", storage.failure_bucket.bucket_name, "Batches that failed after retries"
            ),
        )
        self.output("AlertTopicArn", alerts.topic.topic_arn, "Anomaly alerts (attributes: sensor_type, severity)")
        self.output("WebhookSecretArn", alerts.webhook_secret.secret_arn, "Alert webhook url and token")
        self.output("SmokeTestRoleArn", smoke.role.role_arn, "Role the smoke test assumes")
        self.output("AlertInboxUrl", smoke.alert_inbox.queue_url, "Queue receiving the smoke tests' alerts only")
        acknowledge_findings(
            readings=readings, storage=storage, alerts=alerts, processor=processor, smoke=smoke, deployment=deployment
        )
        if ingest.mqtt.enabled:
            self._add_mqtt_front_door(readings=readings, storage=storage, smoke=smoke)

    def _add_mqtt_front_door(
        self, *, readings: ReadingsStream, storage: ReadingsStorage, smoke: SmokeTestAccess
    ) -> None:
        policy_name = device_policy_name(self.config.name)
        mqtt = MqttFrontDoor(
            self,
            "Mqtt",
            config=self.config.ingest.mqtt,
            rule_name=topic_rule_name(self.config.name),
            device_policy_name=policy_name,
            readings=readings,
            storage=storage,
        )
        mqtt.grant_publish(smoke.role, device=SMOKE_TEST_DEVICE)
        self.output("MqttTopicFilter", mqtt.topic_filter, "Devices publish readings here (AWS IoT Core)")
        self.output("MqttSmokeTestTopic", device_topic(mqtt.topic_filter, SMOKE_TEST_DEVICE), "The smoke test's topic")
        self.output("MqttDevicePolicyName", policy_name, "IoT policy to attach to device certificates")
        acknowledge_mqtt_findings(mqtt=mqtt, storage=storage, smoke=smoke)
