"""One stage's settings: its environment plus each service's own settings, composed (platform team).

The services own their settings (``services/<service>/config.py``); this module only puts them together under
``iot.stages.<stage>`` and adds how the pipeline delivers the stage.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from services.iot_archive.config import ArchiveConfig
from services.iot_processor.config import IngestConfig
from services.observability.config import ObservabilityConfig
from shared.config import (
    ConfigError,
    as_object,
    aws_account,
    between,
    build,
    checked,
    positive,
    raise_if_invalid,
    section,
)
from shared.environment import StageEnvironment
from shared.fault_injection import MAX_EXHAUSTED_BATCH_SHARE

STAGE_ORDER = ("dev", "staging", "prod")


@dataclass(frozen=True, kw_only=True)
class DeliveryConfig:
    """How the pipeline promotes this stage: the bake after the smoke test."""

    # The stage's composite alarm must stay out of ALARM this long after the smoke test (0: no bake, as in prod).
    # At most 55: the bake reads the alarm through one session of the smoke-test role, which lasts an hour.
    bake_minutes: int = checked(between(0, 55), default=0)


@dataclass(frozen=True, kw_only=True)
class Load:
    """The load a stage expects: what its budget is computed for (stages/cost/model.py, docs/cost.md)."""

    readings_per_second: float = checked(positive)
    # The size of one reading as the producer puts it on the stream (one reading per Kinesis record).
    reading_bytes: int = checked(between(1, 1_000_000))
    # Shares of all readings: anomalies are valid readings outside their type's bounds; invalid ones are quarantined.
    anomaly_share: float = checked(between(0, 1))
    invalid_share: float = checked(between(0, 1))

    def cross_field_errors(self) -> list[str]:
        if self.anomaly_share + self.invalid_share > 1:
            return [f"anomalyShare + invalidShare must be at most 1, got {self.anomaly_share + self.invalid_share:g}"]
        return []


@dataclass(frozen=True, kw_only=True)
class StageConfig(StageEnvironment):
    ingest: IngestConfig
    archive: ArchiveConfig
    observability: ObservabilityConfig
    # The load the stage's budget is computed for.
    expected_load: Load
    delivery: DeliveryConfig = field(default_factory=DeliveryConfig)

    def cross_field_errors(self) -> list[str]:
        errors = super().cross_field_errors()
        experiment = self.fault_injection
        if experiment is not None:
            exhausted = experiment.exhausted_batch_share(self.ingest.retry_attempts)
            if exhausted > MAX_EXHAUSTED_BATCH_SHARE:
                errors.append(
                    f"faultInjection.invocationErrorPercent ({experiment.invocation_error_percent}) with "
                    f"ingest.retryAttempts ({self.ingest.retry_attempts}) fails every attempt of {exhausted:.2%} of "
                    f"the batches, over {MAX_EXHAUSTED_BATCH_SHARE:.1%}: the experiment would send readings to the "
                    "failure destination by design"
                )
        return errors


def build_stages(raw: Any, errors: list[str]) -> tuple[StageConfig, ...]:
    """Every stage of ``iot.stages``, in delivery order; one message per problem in ``errors``, naming the stage."""
    stages_raw = as_object(raw, "stages")
    errors.extend(f"stage {name!r}: missing from iot.stages" for name in STAGE_ORDER if name not in stages_raw)
    stages = []
    for name, stage_raw in stages_raw.items():
        stage_errors: list[str] = []
        stage = build(StageConfig, {"name": name, **as_object(stage_raw, f"stages.{name}")}, "", stage_errors)
        if stage is not None:
            stages.append(stage)
        errors.extend(f"stage {name!r}: {error}" for error in stage_errors)
    return tuple(sorted(stages, key=lambda s: STAGE_ORDER.index(s.name) if s.name in STAGE_ORDER else len(STAGE_ORDER)))


def load_stage(context: Mapping[str, Any], name: str) -> StageConfig:
    """Stage ``name`` of ``iot.stages`` (overrides applied), or a ConfigError naming every bad field."""
    return stage_from(as_object(section(context, "stages", name), f"stages.{name}"), name=name)


def stage_from(raw: Mapping[str, Any], *, name: str) -> StageConfig:
    """A stage built from its settings as cdk.json holds them; a ConfigError names every bad field."""
    errors: list[str] = []
    stage = build(StageConfig, {"name": name, **raw}, f"stages.{name}.", errors)
    raise_if_invalid(errors)
    assert isinstance(stage, StageConfig)
    return stage


def sandbox_stage(like: StageConfig, *, account: str) -> StageConfig:
    """A throw-away copy of stage ``like`` named ``sandbox`` in a developer's ``account``."""
    problem = aws_account(account)
    if problem:
        raise ConfigError(f"stage 'sandbox': sandboxAccount: {problem}")
    return dataclasses.replace(like, name="sandbox", account=account, removal_policy="destroy")
