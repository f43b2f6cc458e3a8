"""A stage's AWS Backup policy (``iot.stages.<stage>.backup`` in cdk.json), owned by the platform team.

Every service that holds data the platform cannot rebuild puts it in a plan of this shape (shared/infra/backup.py):
a daily recovery point kept ``retentionDays`` in a vault of the service's own, under a customer-managed key; where a
vault lock is configured, no one (root included) can delete a recovery point before ``minRetentionDays``; where a
copy is configured, every recovery point is also copied to a vault in a separate backup account (ADR 0016).
No CDK here: the stage's config composes it, the tools read it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.config import aws_account, between, checked, matches

# AWS Backup keeps a recovery point from 1 day to 100 years.
MAX_RETENTION_DAYS = 36500
# AWS Backup's vault lock: its grace period before it turns immutable (compliance mode) is at least 3 days.
MIN_LOCK_GRACE_DAYS = 3
# Once a day at a fixed UTC time (AWS Backup's cron): the retention is then a number of recovery points, as the cost
# model counts them (stages/cost/model.py).
_DAILY_CRON = re.compile(r"cron\([0-5]?\d ([01]?\d|2[0-3]) \* \* \? \*\)")


def _cron(value: str) -> str | None:
    if _DAILY_CRON.fullmatch(value):
        return None
    return f"must be once a day at a fixed UTC time, cron(<minute> <hour> * * ? *) such as cron(0 3 * * ? *): {value!r}"


def _grace_days(days: int | None) -> str | None:
    return None if days is None else between(MIN_LOCK_GRACE_DAYS, MAX_RETENTION_DAYS)(days)


def backup_vault_name(stage: str, service: str) -> str:
    """``iot-prod-ingest``: the vault one service's recovery points go to in one stage."""
    return f"iot-{stage}-{service}"


@dataclass(frozen=True, kw_only=True)
class VaultLock:
    """AWS Backup Vault Lock: recovery points stay at least ``min_retention_days``; a plan that asks for less or more
    than the bounds fails its jobs. With ``changeable_for_days`` the lock turns immutable after that grace period
    (compliance mode: not even the account's root can remove it); without it, a privileged user can (governance)."""

    min_retention_days: int = checked(between(1, MAX_RETENTION_DAYS))
    max_retention_days: int = checked(between(1, MAX_RETENTION_DAYS))
    changeable_for_days: int | None = checked(_grace_days, default=None)

    def cross_field_errors(self) -> list[str]:
        if self.min_retention_days > self.max_retention_days:
            return [
                f"minRetentionDays ({self.min_retention_days}) must not exceed maxRetentionDays "
                f"({self.max_retention_days})"
            ]
        return []


@dataclass(frozen=True, kw_only=True)
class BackupCopy:
    """Where every recovery point is copied: a vault in a separate account (same region), kept there this long."""

    account: str = checked(aws_account)
    vault_name: str = checked(matches(r"[A-Za-z0-9_-]{2,50}", "a backup vault name (2-50 letters, digits, - or _)"))
    retention_days: int = checked(between(1, MAX_RETENTION_DAYS))

    def vault_arn(self, *, region: str, partition: str = "aws") -> str:
        return f"arn:{partition}:backup:{region}:{self.account}:backup-vault:{self.vault_name}"


@dataclass(frozen=True, kw_only=True)
class BackupConfig:
    # When the daily recovery point is taken (AWS Backup's cron, UTC, once a day).
    schedule: str = checked(_cron, default="cron(0 3 * * ? *)")
    # How long each recovery point stays in the stage's own vault.
    retention_days: int = checked(between(1, MAX_RETENTION_DAYS))
    # None: the vault can be emptied by whoever may delete recovery points (prod must have a lock).
    vault_lock: VaultLock | None = None
    # None: recovery points stay in the stage's account (prod must copy them out).
    copy: BackupCopy | None = None

    def cross_field_errors(self) -> list[str]:
        lock = self.vault_lock
        if lock is not None and not lock.min_retention_days <= self.retention_days <= lock.max_retention_days:
            return [
                f"retentionDays ({self.retention_days}) must lie within the vault lock's minRetentionDays "
                f"({lock.min_retention_days}) and maxRetentionDays ({lock.max_retention_days}), or every backup "
                "job fails"
            ]
        return []
