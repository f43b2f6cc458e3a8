"""Observability service stack: the ops topic that alarms notify."""

from __future__ import annotations

from typing import Any

from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from services.iot_archive.infra.stack import ArchiveSharedValues
from services.iot_processor.infra.stack import IngestSharedValues
from shared.infra.encryption import rotating_key
from shared.infra.service import ServiceIdentity, ServiceStack
from stages.config import StageConfig


class ObservabilityStack(ServiceStack):
    SERVICE = ServiceIdentity(name="observability", owner_team="iot-sre")

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        ingest: IngestSharedValues,
        archive: ArchiveSharedValues,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            scope, construct_id, config=config, description="dashboard, alarms, ops topic, budget", **kwargs
        )
        key = rotating_key(
            self, "OpsTopicKey", description="Encrypts ops notifications", removal_policy=self.removal_policy
        )
        self.ops_topic = sns.Topic(self, "OpsTopic", master_key=key, enforce_ssl=True)
        for address in config.observability.ops_emails:
            self.ops_topic.add_subscription(subscriptions.EmailSubscription(address))
        self.output("OpsTopicArn", self.ops_topic.topic_arn, "SNS topic alarms notify")
