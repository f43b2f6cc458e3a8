"""The processor's settings, read once from the environment the stack sets, validated with clear errors."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.readings.anomalies import AnomalyBounds


class SettingsError(ValueError):
    pass


@dataclass(frozen=True, kw_only=True)
class Settings:
    table_name: str
    processed_bucket: str
    alert_topic_arn: str
    webhook_secret_arn: str | None
    anomaly_bounds: Mapping[str, AnomalyBounds]
    ttl_days: int
    anomaly_ttl_days: int
    anomaly_index_shards: int

    @classmethod
    def from_environment(cls, environment: Mapping[str, str] = os.environ) -> Settings:
        def required(name: str) -> str:
            value = environment.get(name, "").strip()
            if not value:
                raise SettingsError(f"environment variable {name} is not set")
            return value

        def positive(name: str) -> int:
            raw = required(name)
            if not raw.isdigit() or int(raw) <= 0:
                raise SettingsError(f"environment variable {name} must be a positive integer, got {raw!r}")
            return int(raw)

        return cls(
            table_name=required("TABLE_NAME"),
            processed_bucket=required("PROCESSED_BUCKET"),
            alert_topic_arn=required("ALERT_TOPIC_ARN"),
            webhook_secret_arn=environment.get("WEBHOOK_SECRET_ARN") or None,
            anomaly_bounds=parse_bounds(required("ANOMALY_BOUNDS")),
            ttl_days=positive("TTL_DAYS"),
            anomaly_ttl_days=positive("ANOMALY_TTL_DAYS"),
            anomaly_index_shards=positive("ANOMALY_INDEX_SHARDS"),
        )


def encode_bounds(bounds: Mapping[str, AnomalyBounds]) -> str:
    """The ANOMALY_BOUNDS value the stack writes: {"temperature": {"upper": 100}, ...}."""
    return json.dumps(
        {
            name: {k: v for k, v in (("lower", b.lower), ("upper", b.upper)) if v is not None}
            for name, b in bounds.items()
        },
        sort_keys=True,
    )


def parse_bounds(raw: str) -> dict[str, AnomalyBounds]:
    try:
        document: Any = json.loads(raw)
    except json.JSONDecodeError as error:
        raise SettingsError(f"ANOMALY_BOUNDS is not JSON: {error}") from None
    if not isinstance(document, dict):
        raise SettingsError("ANOMALY_BOUNDS must be a JSON object of sensor type -> {lower, upper}")
    bounds = {}
    for name, limits in document.items():
        if not isinstance(limits, dict) or set(limits) - {"lower", "upper"}:
            raise SettingsError(f"ANOMALY_BOUNDS[{name!r}] must be an object with lower and/or upper")
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in limits.values()):
            raise SettingsError(f"ANOMALY_BOUNDS[{name!r}] limits must be numbers")
        bounds[name] = AnomalyBounds(lower=limits.get("lower"), upper=limits.get("upper"))
    return bounds
