"""The stage a service's stacks deploy into: what every service needs to know about its environment."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from shared.config import (
    as_object,
    aws_account,
    aws_region,
    build,
    camel,
    checked,
    matches,
    not_blank,
    raise_if_invalid,
    section,
)

RemovalMode = Literal["destroy", "retain"]
PRODUCTION = "prod"


@dataclass(frozen=True, kw_only=True)
class StageEnvironment:
    name: str = checked(matches(r"[a-z][a-z0-9]{1,11}", "2-12 lowercase letters or digits, starting with a letter"))
    account: str = checked(aws_account)
    region: str = checked(aws_region)
    # What happens to stateful resources (stream, table, buckets, keys) when their stack is deleted.
    removal_policy: RemovalMode
    cost_center: str = checked(not_blank)

    @property
    def is_production(self) -> bool:
        return self.name == PRODUCTION

    def cross_field_errors(self) -> list[str]:
        if self.is_production and self.removal_policy == "destroy":
            return ["removalPolicy: prod must retain its data, got 'destroy'"]
        return []


def load_stage_environment(context: Mapping[str, Any], stage: str) -> StageEnvironment:
    """The environment fields of ``iot.stages.<stage>`` alone, for code that needs no other stage setting."""
    stage_raw = as_object(section(context, "stages", stage), f"stages.{stage}")
    names = {camel(spec.name) for spec in dataclasses.fields(StageEnvironment)}
    errors: list[str] = []
    raw = {"name": stage, **{key: value for key, value in stage_raw.items() if key in names}}
    environment = build(StageEnvironment, raw, f"stages.{stage}.", errors)
    raise_if_invalid(errors)
    assert isinstance(environment, StageEnvironment)
    return environment
