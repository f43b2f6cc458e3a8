"""The ingest service's settings for one stage (``iot.stages.<stage>.ingest`` in cdk.json), owned by iot-ingest.

Every field here is read by the ingest stack; docs/adding-a-stage.md explains how to choose the values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from shared.config import between, checked, emails, non_negative, positive
from shared.readings.anomalies import DEFAULT_ANOMALY_BOUNDS, AnomalyBounds

StreamMode = Literal["provisioned", "on_demand"]
# DynamoDB's table classes: Standard, or Standard-IA (storage cheaper, reads and writes dearer).
TableClass = Literal["standard", "standard_infrequent_access"]
# CodeDeploy's predefined Lambda deployment configurations (how traffic moves from the old version to the new).
TrafficShift = Literal[
    "AllAtOnce",
    "Canary10Percent5Minutes",
    "Canary10Percent10Minutes",
    "Canary10Percent15Minutes",
    "Canary10Percent30Minutes",
    "Linear10PercentEvery1Minute",
    "Linear10PercentEvery2Minutes",
    "Linear10PercentEvery3Minutes",
    "Linear10PercentEvery10Minutes",
]

# An MQTT topic filter with exactly one single-level wildcard, the device's segment: sensors/+/readings.
# Plain segments only (no "#", no reserved "$" topics), so the filter is safe inside the rule's SQL string.
_DEVICE_TOPIC_FILTER = re.compile(r"^(?:[A-Za-z0-9_-]+/)*\+(?:/[A-Za-z0-9_-]+)*$")
MQTT_MAX_TOPIC_LEVELS = 8  # AWS IoT allows at most 7 forward slashes in a topic or topic filter


def _device_topic_filter(value: str) -> str | None:
    if not _DEVICE_TOPIC_FILTER.fullmatch(value) or len(value.split("/")) > MQTT_MAX_TOPIC_LEVELS:
        return (
            f"must be an MQTT topic filter of at most {MQTT_MAX_TOPIC_LEVELS} levels with exactly one '+' level "
            f"(the device) and letters, digits, '_' or '-' elsewhere, such as 'sensors/+/readings'; got {value!r}"
        )
    return None


def _ordered_bounds(bounds: Mapping[str, AnomalyBounds]) -> str | None:
    bad = [name for name, b in bounds.items() if b.lower is not None and b.upper is not None and b.lower >= b.upper]
    return f"lower must be below upper for {bad}" if bad else None


@dataclass(frozen=True, kw_only=True)
class MqttConfig:
    """The MQTT front door: an AWS IoT Core topic rule puts readings published on ``topic_filter`` on the stream."""

    enabled: bool
    topic_filter: str = checked(_device_topic_filter, default="sensors/+/readings")

    @property
    def device_level(self) -> int:
        """The 1-based level of the device's segment, as the rule's ``topic(n)`` function counts it."""
        return self.topic_filter.split("/").index("+") + 1


@dataclass(frozen=True, kw_only=True)
class RollbackThresholds:
    """A processor deployment rolls back when the live alias crosses these; the stage passes the alarm thresholds
    the ops team set for the data path (``observability`` in cdk.json), so both agree on what unhealthy means."""

    errors: int
    iterator_age_seconds: int


@dataclass(frozen=True, kw_only=True)
class ScaledCapacity:
    """Provisioned capacity units that auto scaling keeps at ``target_utilization_percent`` of what is consumed,
    never below ``min_units`` nor above ``max_units``."""

    # The floor: what the table has at once, before auto scaling reacts (it reacts in minutes, docs/capacity.md).
    min_units: int = checked(between(1, 40000))
    # The ceiling: auto scaling at it is an alarm (docs/runbooks.md#table-write-capacity-at-max).
    max_units: int = checked(between(1, 40000))
    # Consumed / provisioned that auto scaling aims for; at most 70, the capacity model's headroom.
    target_utilization_percent: int = checked(between(20, 70))

    def cross_field_errors(self) -> list[str]:
        if self.min_units > self.max_units:
            return [f"minUnits ({self.min_units}) must not exceed maxUnits ({self.max_units})"]
        return []


@dataclass(frozen=True, kw_only=True)
class ProvisionedTable:
    """The readings table in provisioned mode; each capacity is auto scaled between its bounds (ADR 0013)."""

    # The table's writes: one WCU per stored reading of up to 1 KB.
    writes: ScaledCapacity
    # The anomaly index's writes: one WCU per anomaly; a throttled index write throttles the table's write too.
    index_writes: ScaledCapacity
    # Reads of the table and of the index alike: queries, the smoke test's checks, replays' look-ups.
    reads: ScaledCapacity


@dataclass(frozen=True, kw_only=True)
class IngestConfig:
    # The readings stream: provisioned shards (with shard_count) or on-demand; how long records stay readable.
    stream_mode: StreamMode
    shard_count: int = checked(positive)
    retention_hours: int = checked(between(24, 8760))
    # The processor and its event source mapping.
    processor_memory_mb: int = checked(between(128, 10240))
    batch_size: int = checked(between(1, 10000))
    max_batching_window_seconds: int = checked(between(0, 300))
    parallelization_factor: int = checked(between(1, 10))
    retry_attempts: int = checked(between(0, 10000))
    max_record_age_seconds: int = checked(between(60, 604800))
    reserved_concurrency: int = checked(positive)
    # How CodeDeploy shifts the processor's live alias to a new version; it rolls back on alarm either way.
    traffic_shift: TrafficShift = "AllAtOnce"
    # The readings table: how long a reading stays (an anomaly: anomaly_ttl_days, so the anomaly index keeps them
    # longer), the pre-warmed write throughput of an on-demand table (0: on-demand defaults), anomaly index shards.
    table_ttl_days: int = checked(positive)
    anomaly_ttl_days: int = checked(positive)
    warm_write_units_per_second: int = checked(non_negative)
    anomaly_index_shards: int = checked(between(1, 100), default=16)
    # None: on-demand; otherwise provisioned write and read capacity with auto scaling (ADR 0013).
    table_capacity: ProvisionedTable | None = None
    table_class: TableClass = "standard"
    # The processed bucket: processed/ and quarantine/ objects expire after these.
    processed_expiration_days: int = checked(positive)
    quarantine_expiration_days: int = checked(positive)
    # Who the alert topic e-mails, and the per-type bounds outside which a reading is an anomaly.
    alert_emails: tuple[str, ...] = checked(emails, default=())
    anomaly_bounds: Mapping[str, AnomalyBounds] = checked(
        _ordered_bounds, default_factory=lambda: DEFAULT_ANOMALY_BOUNDS
    )
    mqtt: MqttConfig = field(default_factory=lambda: MqttConfig(enabled=False))

    @property
    def provisioned_table(self) -> bool:
        return self.table_capacity is not None

    def cross_field_errors(self) -> list[str]:
        errors = []
        retention_seconds = self.retention_hours * 3600
        if self.max_record_age_seconds >= retention_seconds:
            errors.append(
                f"maxRecordAgeSeconds ({self.max_record_age_seconds}) must stay below the stream retention "
                f"({retention_seconds} s), or records expire before they reach the failure destination"
            )
        if self.anomaly_ttl_days < self.table_ttl_days:
            errors.append(
                f"anomalyTtlDays ({self.anomaly_ttl_days}) must be at least tableTtlDays ({self.table_ttl_days}): "
                "an anomaly is a reading too, and the latest-readings query must find it"
            )
        if self.table_capacity is not None and self.warm_write_units_per_second:
            errors.append(
                "warmWriteUnitsPerSecond applies to an on-demand table only: a provisioned table has its "
                "tableCapacity.writes.minUnits from the start"
            )
        return errors
