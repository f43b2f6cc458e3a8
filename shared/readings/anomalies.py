"""Anomaly bounds per sensor type and how a reading is judged against them (runtime code, no CDK)."""

from __future__ import annotations

import types
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from shared.readings.schema import Reading

# How far past a bound (as a share of the bound's magnitude) a reading turns from warning to critical.
CRITICAL_EXCESS = Decimal("0.2")


class Severity(StrEnum):
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True, kw_only=True)
class AnomalyBounds:
    """Readings below ``lower`` or above ``upper`` are anomalies for that sensor type; None means unbounded."""

    lower: float | None = None
    upper: float | None = None


DEFAULT_ANOMALY_BOUNDS: Mapping[str, AnomalyBounds] = types.MappingProxyType(
    {
        "temperature": AnomalyBounds(upper=100),
        "pressure": AnomalyBounds(upper=150),
        "vibration": AnomalyBounds(upper=5),
    }
)


def severity_of(reading: Reading, bounds: Mapping[str, AnomalyBounds]) -> Severity | None:
    """None for a normal reading (or a type without bounds), else how bad the excursion is."""
    bound = bounds.get(reading.sensor_type)
    if bound is None:
        return None
    if bound.upper is not None and reading.value > Decimal(str(bound.upper)):
        limit = Decimal(str(bound.upper))
    elif bound.lower is not None and reading.value < Decimal(str(bound.lower)):
        limit = Decimal(str(bound.lower))
    else:
        return None
    excess = abs(reading.value - limit)
    return Severity.CRITICAL if excess > max(abs(limit), Decimal(1)) * CRITICAL_EXCESS else Severity.WARNING
