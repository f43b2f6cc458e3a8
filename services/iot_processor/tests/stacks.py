"""The ingest stack of every configured stage, synthesized on its own (the service's infra and MQTT tests)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from constructs import Construct

from services.iot_processor.config import IngestConfig, RollbackThresholds
from services.iot_processor.infra.stack import IngestStack
from shared.environment import StageEnvironment
from shared.testing.service_stacks import SynthesizedService, synthesize_per_stage

# What the stage passes in from outside the service: the pipeline's account, where the smoke test runs, and the
# observability team's alarm thresholds (tests/test_stage.py checks the real stage passes its own).
SMOKE_TEST_ACCOUNT = "999999999999"
ROLLBACK = RollbackThresholds(errors=3, iterator_age_seconds=240)

IngestService = SynthesizedService[IngestConfig, IngestStack]


def synthesize_ingest(overrides: Mapping[str, Any] | None = None, only: str | None = None) -> dict[str, IngestService]:
    def build(scope: Construct, environment: StageEnvironment, config: IngestConfig) -> IngestStack:
        return IngestStack(
            scope,
            "Ingest",
            environment=environment,
            config=config,
            rollback=ROLLBACK,
            smoke_test_account=SMOKE_TEST_ACCOUNT,
        )

    return synthesize_per_stage(build, config_type=IngestConfig, section="ingest", overrides=overrides, only=only)
