"""The archive service's settings for one stage (``iot.stages.<stage>.archive`` in cdk.json), owned by iot-data."""

from __future__ import annotations

from dataclasses import dataclass

from shared.config import between, checked, positive


@dataclass(frozen=True, kw_only=True)
class ArchiveConfig:
    # Firehose flushes to S3 when either limit is reached first.
    buffer_interval_seconds: int = checked(between(0, 900))
    buffer_size_mib: int = checked(between(64, 128))
    # The raw archive's lifecycle: Infrequent Access, then Glacier Instant Retrieval, then deletion.
    infrequent_access_after_days: int = checked(between(30, 36500))
    archive_after_days: int = checked(positive)
    expiration_days: int = checked(positive)

    def cross_field_errors(self) -> list[str]:
        errors = []
        if self.archive_after_days <= self.infrequent_access_after_days:
            errors.append("archiveAfterDays must be later than infrequentAccessAfterDays")
        if self.expiration_days <= self.archive_after_days:
            errors.append("expirationDays must be later than archiveAfterDays")
        return errors
