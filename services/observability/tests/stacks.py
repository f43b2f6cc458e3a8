"""The observability stack of every configured stage, synthesized on its own (the service's infra tests)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import Duration
from constructs import Construct

from services.observability.config import ObservabilityConfig
from services.observability.infra.alarms import WriteCeilings
from services.observability.infra.stack import ObservabilityStack
from shared.environment import StageEnvironment
from shared.testing.service_stacks import SynthesizedService, synthesize_per_stage

# What the stage passes in from the other services' settings and the cost model (tests/test_stage.py checks the real
# ones): the archive team's Firehose buffer, a provisioned table's auto scaling ceilings, the budget.
FIREHOSE_BUFFER_SECONDS = 120
WRITE_CEILINGS = WriteCeilings(table=30_000, index=15_000)
MONTHLY_BUDGET_USD = 1234

ObservabilityService = SynthesizedService[ObservabilityConfig, ObservabilityStack]


def synthesize_observability(
    overrides: Mapping[str, Any] | None = None, only: str | None = None
) -> dict[str, ObservabilityService]:
    def build(scope: Construct, environment: StageEnvironment, config: ObservabilityConfig) -> ObservabilityStack:
        return ObservabilityStack(
            scope,
            "Observability",
            environment=environment,
            config=config,
            firehose_buffer_interval=Duration.seconds(FIREHOSE_BUFFER_SECONDS),
            write_ceilings=WRITE_CEILINGS,
            monthly_budget_usd=MONTHLY_BUDGET_USD,
        )

    return synthesize_per_stage(
        build, config_type=ObservabilityConfig, section="observability", overrides=overrides, only=only
    )
