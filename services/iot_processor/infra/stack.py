"""Ingest service stack: composes the stream, processor, storage and alert constructs of one stage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from constructs import Construct

from services.iot_processor.infra.compliance import acknowledge_findings
from services.iot_processor.infra.stream import ReadingsStream
from shared.infra.service import ServiceIdentity, ServiceStack, SharedValue
from stages.config import StageConfig


@dataclass(frozen=True, kw_only=True)
class IngestSharedValues:
    """What the other stacks of the stage read from this one."""

    stream_arn: SharedValue
    stream_name: SharedValue
    stream_key_arn: SharedValue


class IngestStack(ServiceStack):
    SERVICE = ServiceIdentity(name="ingest", owner_team="iot-ingest")

    def __init__(self, scope: Construct, construct_id: str, *, config: StageConfig, **kwargs: Any) -> None:
        super().__init__(
            scope, construct_id, config=config, description="readings stream, processor, table, alerts", **kwargs
        )
        readings = ReadingsStream(self, "Readings", config=config.ingest, removal_policy=self.removal_policy)
        self.shared_values = IngestSharedValues(
            stream_arn=self.share("stream-arn", readings.stream.stream_arn, "ARN of the readings stream"),
            stream_name=self.share(
                "stream-name", readings.stream.stream_name, "Name of the readings stream producers put to"
            ),
            stream_key_arn=self.share(
                "stream-key-arn", readings.key.key_arn, "KMS key that encrypts the readings stream"
            ),
        )
        acknowledge_findings(readings=readings)
