"""The archive stack of every configured stage, synthesized on its own (the service's infra tests)."""

from __future__ import annotations

from constructs import Construct

from services.iot_archive.config import ArchiveConfig
from services.iot_archive.infra.stack import ArchiveStack
from shared.environment import StageEnvironment
from shared.testing.service_stacks import SynthesizedService, synthesize_per_stage

ArchiveService = SynthesizedService[ArchiveConfig, ArchiveStack]


def synthesize_archive() -> dict[str, ArchiveService]:
    def build(scope: Construct, environment: StageEnvironment, config: ArchiveConfig) -> ArchiveStack:
        return ArchiveStack(scope, "Archive", environment=environment, config=config)

    return synthesize_per_stage(build, config_type=ArchiveConfig, section="archive")
