"""The stage a service's stacks deploy into: what every service needs to know about its environment."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from shared.backup import BackupConfig
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
from shared.fault_injection import FaultInjectionConfig

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
    # How the services that hold data the platform cannot rebuild back it up (AWS Backup; shared/backup.py).
    backup: BackupConfig
    # The fault injection experiment the pipeline runs after the smoke test (None: none; shared/fault_injection.py).
    fault_injection: FaultInjectionConfig | None = None

    @property
    def is_production(self) -> bool:
        return self.name == PRODUCTION

    def cross_field_errors(self) -> list[str]:
        errors = []
        if self.is_production and self.removal_policy == "destroy":
            errors.append("removalPolicy: prod must retain its data, got 'destroy'")
        if self.is_production and self.backup.vault_lock is None:
            errors.append("backup.vaultLock: prod must lock its vault, so no one can delete its recovery points early")
        if self.is_production and self.backup.copy is None:
            errors.append("backup.copy: prod must copy its recovery points to a vault in a separate backup account")
        if self.backup.copy is not None and self.backup.copy.account == self.account:
            errors.append(
                f"backup.copy.account: must be a separate account from the stage's own ({self.account}): a copy in "
                "the same account is lost with it"
            )
        if self.is_production and self.fault_injection is not None:
            errors.append("faultInjection: prod runs no experiment; a stage before it proves the platform under faults")
        return errors


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
