"""One environment of the platform: the three service stacks, wired to each other inside the stage."""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, Environment, Stage
from constructs import Construct

from services.iot_archive.infra.stack import ArchiveStack
from services.iot_processor.config import RollbackThresholds
from services.iot_processor.infra.stack import IngestStack
from services.observability.infra.alarms import WriteCeilings
from services.observability.infra.stack import ObservabilityStack
from shared.infra.naming import output_variable
from shared.infra.service import ServiceStack
from stages.config import StageConfig
from stages.cost.model import monthly_budget_usd
from stages.cost.prices import load_prices


class IotStage(Stage):
    def __init__(self, scope: Construct, construct_id: str, *, config: StageConfig, smoke_test_account: str) -> None:
        super().__init__(scope, construct_id, env=Environment(account=config.account, region=config.region))
        self.config = config
        self.ingest = IngestStack(
            self,
            "Ingest",
            environment=config,
            config=config.ingest,
            # A deployment rolls back on the thresholds the data path's alarms use.
            rollback=RollbackThresholds(
                errors=config.observability.error_threshold,
                iterator_age_seconds=config.observability.iterator_age_threshold_seconds,
            ),
            smoke_test_account=smoke_test_account,
        )
        self.archive = ArchiveStack(self, "Archive", environment=config, config=config.archive)
        self.observability = ObservabilityStack(
            self,
            "Observability",
            environment=config,
            config=config.observability,
            firehose_buffer_interval=Duration.seconds(config.archive.buffer_interval_seconds),
            write_ceilings=_write_ceilings(config),
            # What the cost model says the stage costs at its expected load, plus the ops team's margin.
            monthly_budget_usd=monthly_budget_usd(config, load_prices()),
        )
        # Values flow through SSM parameters, not exports, so the deploy order has to be explicit.
        self.archive.add_stack_dependency(self.ingest, "reads the stream parameters the ingest stack publishes")
        self.observability.add_stack_dependency(self.archive, "watches resources of the ingest and archive stacks")

    @property
    def service_stacks(self) -> tuple[ServiceStack, ...]:
        return (self.ingest, self.archive, self.observability)

    def verification_outputs(self) -> dict[str, CfnOutput]:
        """Every stack output of the stage, as environment variables such as ``INGEST_STREAMNAME``."""
        return {
            output_variable(stack.SERVICE.name, output_id): output
            for stack in self.service_stacks
            for output_id, output in stack.outputs.items()
        }


def _write_ceilings(config: StageConfig) -> WriteCeilings | None:
    """The provisioned table's auto scaling ceilings, which the observability stack's alarms watch."""
    capacity = config.ingest.table_capacity
    if capacity is None:
        return None
    return WriteCeilings(table=capacity.writes.max_units, index=capacity.index_writes.max_units)
