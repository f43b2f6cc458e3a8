"""The ingest stream: where producers put readings and both the processor and the archive read them."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kinesis as kinesis
from constructs import Construct

from services.iot_processor.config import IngestConfig
from shared.infra.encryption import rotating_key


class ReadingsStream(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: IngestConfig, removal_policy: RemovalPolicy
    ) -> None:
        super().__init__(scope, construct_id)
        self.key = rotating_key(
            self, "Key", description="Encrypts the sensor readings stream", removal_policy=removal_policy
        )
        provisioned = config.stream_mode == "provisioned"
        self.stream = kinesis.Stream(
            self,
            "Stream",
            encryption=kinesis.StreamEncryption.KMS,
            encryption_key=self.key,
            stream_mode=kinesis.StreamMode.PROVISIONED if provisioned else kinesis.StreamMode.ON_DEMAND,
            shard_count=config.shard_count if provisioned else None,
            retention_period=Duration.hours(config.retention_hours),
            removal_policy=removal_policy,
        )
