"""The anomaly rules: both sides of each bound and of the warning/critical line, for every kind of bound."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from shared.readings.anomalies import DEFAULT_ANOMALY_BOUNDS, AnomalyBounds, Severity, severity_of
from shared.readings.schema import Reading

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def _reading(sensor_type: str, value: str) -> Reading:
    return Reading(sensor_id="s-1", sensor_type=sensor_type, value=Decimal(value), timestamp=NOW, reading_id="r-1")


@pytest.mark.parametrize(
    ("sensor_type", "value", "severity"),
    [
        ("temperature", "100", None),  # the bound itself is normal
        ("temperature", "100.001", Severity.WARNING),
        ("temperature", "120", Severity.WARNING),  # 20 % past the bound: still a warning
        ("temperature", "120.001", Severity.CRITICAL),
        ("temperature", "-273.15", None),  # no lower bound by default
        ("pressure", "150", None),
        ("pressure", "150.001", Severity.WARNING),
        ("pressure", "180", Severity.WARNING),
        ("pressure", "180.001", Severity.CRITICAL),
        ("vibration", "5", None),
        ("vibration", "5.001", Severity.WARNING),
        ("vibration", "6", Severity.WARNING),
        ("vibration", "6.001", Severity.CRITICAL),
        ("humidity", "100", None),  # humidity has no default bounds
        ("co2", "99999", None),  # nor do types the contract stores but does not evaluate
    ],
)
def test_default_bounds(sensor_type: str, value: str, severity: Severity | None) -> None:
    assert severity_of(_reading(sensor_type, value), DEFAULT_ANOMALY_BOUNDS) is severity


LOWER_AND_UPPER = {"level": AnomalyBounds(lower=10, upper=20)}


@pytest.mark.parametrize(
    ("value", "severity"),
    [
        ("10", None),  # the lower bound itself is normal
        ("9.999", Severity.WARNING),
        ("8", Severity.WARNING),  # 20 % of 10 below the bound
        ("7.999", Severity.CRITICAL),
        ("15", None),
        ("20", None),
        ("20.001", Severity.WARNING),
        ("24", Severity.WARNING),
        ("24.001", Severity.CRITICAL),
    ],
)
def test_a_value_is_judged_against_the_lower_and_the_upper_bound(value: str, severity: Severity | None) -> None:
    assert severity_of(_reading("level", value), LOWER_AND_UPPER) is severity


@pytest.mark.parametrize(
    ("bounds", "value", "severity"),
    [
        (AnomalyBounds(lower=-10), "-12", Severity.WARNING),  # a negative bound's margin is 20 % of its size
        (AnomalyBounds(lower=-10), "-12.001", Severity.CRITICAL),
        (AnomalyBounds(lower=-10), "1000", None),  # no upper bound
        (AnomalyBounds(upper=-10), "-7.999", Severity.CRITICAL),
        (AnomalyBounds(upper=-10), "-8", Severity.WARNING),
        (AnomalyBounds(upper=0.5), "0.7", Severity.WARNING),  # |bound| < 1: the margin is 0.2
        (AnomalyBounds(upper=0.5), "0.701", Severity.CRITICAL),
        (AnomalyBounds(lower=0), "-0.2", Severity.WARNING),
        (AnomalyBounds(lower=0), "-0.201", Severity.CRITICAL),
        (AnomalyBounds(upper=0.1), "0.1", None),  # a float bound is compared as written, not as its binary value
        (AnomalyBounds(upper=0.1), "0.1000000000000000001", Severity.WARNING),
        (AnomalyBounds(), "1e15", None),  # no bounds at all
    ],
)
def test_margins_of_one_sided_negative_and_small_bounds(
    bounds: AnomalyBounds, value: str, severity: Severity | None
) -> None:
    assert severity_of(_reading("level", value), {"level": bounds}) is severity
