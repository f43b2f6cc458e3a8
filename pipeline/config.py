"""The platform's settings: the delivery pipeline's own, and every stage it deploys (``iot`` in cdk.json).

Loading fails synth with one message that names every bad field and the stage it belongs to.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.config import (
    ConfigError,
    aws_account,
    aws_region,
    build,
    checked,
    emails,
    matches,
    not_blank,
    platform_settings,
    raise_if_invalid,
)
from stages.config import StageConfig, build_stages


@dataclass(frozen=True, kw_only=True)
class PipelineConfig:
    tooling_account: str = checked(aws_account)
    region: str = checked(aws_region)
    repository: str = checked(matches(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", "a GitHub repository as owner/name"))
    branch: str = checked(not_blank)
    connection_arn: str = checked(
        matches(
            r"arn:aws[a-z-]*:(codeconnections|codestar-connections):[a-z0-9-]+:\d{12}:connection/[0-9a-f-]+",
            "a CodeConnections connection ARN",
        )
    )
    # Who hears that the pipeline failed, waits for an approval, or finished a prod deploy.
    notification_emails: tuple[str, ...] = checked(emails, default=())


@dataclass(frozen=True, kw_only=True)
class PlatformConfig:
    pipeline: PipelineConfig
    stages: tuple[StageConfig, ...]

    def stage(self, name: str) -> StageConfig:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise ConfigError(f"stage {name!r} is not configured (configured: {[s.name for s in self.stages]})")


def load_platform_config(context: Mapping[str, Any]) -> PlatformConfig:
    """Build the platform config from CDK context: the ``iot`` object plus ``iot.<path>`` overrides."""
    raw = platform_settings(context)
    errors: list[str] = []
    pipeline = build(PipelineConfig, raw.get("pipeline"), "pipeline.", errors)
    stages = build_stages(raw.get("stages", {}), errors)
    raise_if_invalid(errors)
    return PlatformConfig(pipeline=pipeline, stages=stages)
