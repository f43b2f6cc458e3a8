"""One stage's settings: its environment plus each service's own settings, composed (platform team).

The services own their settings (``services/<service>/config.py``); this module only puts them together under
``iot.stages.<stage>`` and adds how the pipeline delivers the stage.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from services.iot_archive.config import ArchiveConfig
from services.iot_processor.config import IngestConfig
from services.observability.config import ObservabilityConfig
from shared.config import ConfigError, as_object, aws_account, between, build, checked
from shared.environment import StageEnvironment

STAGE_ORDER = ("dev", "staging", "prod")


@dataclass(frozen=True, kw_only=True)
class DeliveryConfig:
    """How the pipeline promotes this stage: the bake after the smoke test."""

    # The stage's composite alarm must stay out of ALARM this long after the smoke test (0: no bake, as in prod).
    # At most 55: the bake reads the alarm through one session of the smoke-test role, which lasts an hour.
    bake_minutes: int = checked(between(0, 55), default=0)


@dataclass(frozen=True, kw_only=True)
class StageConfig(StageEnvironment):
    ingest: IngestConfig
    archive: ArchiveConfig
    observability: ObservabilityConfig
    delivery: DeliveryConfig = field(default_factory=DeliveryConfig)


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


def sandbox_stage(like: StageConfig, *, account: str) -> StageConfig:
    """A throw-away copy of stage ``like`` named ``sandbox`` in a developer's ``account``."""
    problem = aws_account(account)
    if problem:
        raise ConfigError(f"stage 'sandbox': sandboxAccount: {problem}")
    return dataclasses.replace(like, name="sandbox", account=account, removal_policy="destroy")
