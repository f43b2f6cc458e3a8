"""Synthetic fleets: devices that behave as real ones do, each by a profile, reproducible from a seed.

- steady: a baseline with a little noise;
- daily: a daily cycle around the baseline (the sun, the heating), by the reading's own time of day;
- drift: a temperature sensor whose calibration drifts up past the anomaly bound: its only anomalies;
- stuck: the same value again and again;
- dropout: steady, but silent for a while in the middle of its readings;
- flush: offline for hours, then it sends its buffered readings in one burst at the end: late data, hours old,
  for old archive partitions.

Every device sends one reading per CADENCE; readings are put in time order, the flushed buffers last. The same seed,
run id and clock give the same bytes; the profiles, sensor types and values depend on the seed alone.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from shared.readings.anomalies import DEFAULT_ANOMALY_BOUNDS, AnomalyBounds
from shared.synthetic.readings import INVALID_REASONS, NORMAL_RANGES, UNITS, SyntheticRecord, invalid_record

CADENCE = timedelta(seconds=30)
DROPOUT_GAP = 20 * CADENCE
FLUSH_OFFLINE = timedelta(hours=3)
NOISE = 0.01  # of the normal range's width
DAILY_AMPLITUDE = 0.25  # of the normal range's width
DRIFT_SENSOR_TYPE = "temperature"
DRIFT_FROM, DRIFT_TO = 60.0, 130.0  # past the temperature bound (100): warnings, then critical readings
_DAY_SECONDS = 86_400


class Profile(StrEnum):
    STEADY = "steady"
    DAILY = "daily"
    DRIFT = "drift"
    STUCK = "stuck"
    DROPOUT = "dropout"
    FLUSH = "flush"


DEFAULT_MIX = "steady=70,daily=10,drift=5,stuck=5,dropout=5,flush=5"


class FleetMixError(ValueError):
    """A fleet mix that cannot be read; the message names what is wrong."""


@dataclass(frozen=True)
class FleetMix:
    """How many devices of each profile, as whole-number weights (percentages or any other)."""

    weights: Mapping[Profile, int]

    @classmethod
    def parse(cls, text: str) -> FleetMix:
        """``steady=70,daily=10,...``: each profile at most once, weights whole and not negative, not all zero."""
        weights: dict[Profile, int] = {}
        for item in text.split(","):
            name, equals, weight = (part.strip() for part in item.partition("="))
            if not equals or not name:
                raise FleetMixError(f"{item.strip()!r} is not profile=weight")
            if name not in Profile.__members__.values():
                raise FleetMixError(f"unknown profile {name!r}; the profiles: {', '.join(Profile)}")
            if Profile(name) in weights:
                raise FleetMixError(f"profile {name!r} is given twice")
            if not weight.isdigit():
                raise FleetMixError(f"the weight of {name!r} must be a whole number of 0 or more, got {weight!r}")
            weights[Profile(name)] = int(weight)
        if not any(weights.values()):
            raise FleetMixError("the weights add up to 0: no device would send anything")
        return cls(weights)

    def apportion(self, devices: int) -> list[Profile]:
        """``devices`` profiles in the mix's proportions (largest remainders), in the order of Profile."""
        total = sum(self.weights.values())
        exact = {profile: devices * weight / total for profile, weight in self.weights.items()}
        counts = {profile: math.floor(share) for profile, share in exact.items()}
        by_remainder = sorted(
            exact, key=lambda profile: (counts[profile] - exact[profile], list(Profile).index(profile))
        )
        for profile in by_remainder[: devices - sum(counts.values())]:
            counts[profile] += 1
        return [profile for profile in Profile for _ in range(counts.get(profile, 0))]


@dataclass(frozen=True, kw_only=True)
class _Device:
    number: int
    profile: Profile
    sensor_type: str
    baseline: float
    phase: timedelta  # where in the cadence its readings fall, so devices interleave


def fleet_records(
    count: int,
    *,
    mix: FleetMix,
    run_id: str,
    now: datetime,
    seed: int = 7,
    devices: int = 200,
    invalid_share: float = 0.0,
    bounds: Mapping[str, AnomalyBounds] = DEFAULT_ANOMALY_BOUNDS,
) -> list[SyntheticRecord]:
    """``count`` records from a fleet of up to ``devices`` devices in ``mix``; ``invalid_share`` of them invalid."""
    if count < 0 or devices <= 0 or not 0 <= invalid_share <= 1:
        raise ValueError("count must be >= 0, devices > 0 and invalid_share between 0 and 1")
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    profiles = mix.apportion(min(devices, count) or 1)
    rng.shuffle(profiles)
    fleet = [_device(number, profile, rng) for number, profile in enumerate(profiles)]
    readings = [
        (device, moment, value)
        for device in fleet
        for moment, value in _readings(device, count // len(fleet) + (device.number < count % len(fleet)), now, rng)
    ]
    readings.sort(key=_put_order)
    invalid = set(rng.sample(range(len(readings)), round(len(readings) * invalid_share)))
    return [
        _invalid(index, device, run_id, now)
        if index in invalid
        else _reading(index, device, moment, value, run_id=run_id, bounds=bounds)
        for index, (device, moment, value) in enumerate(readings)
    ]


def _put_order(reading: tuple[_Device, datetime, float]) -> tuple[bool, int, datetime]:
    """Live readings in time order; then each flushing device's buffer, whole, as it reconnects."""
    device, moment, _ = reading
    flushed = device.profile is Profile.FLUSH
    return (flushed, device.number if flushed else 0, moment)


def profile_of(record: SyntheticRecord) -> Profile:
    """The profile of the device that sent ``record`` (its sensor id names it)."""
    return Profile(record.sensor_id.split("-")[-2])


def _device(number: int, profile: Profile, rng: random.Random) -> _Device:
    sensor_type = DRIFT_SENSOR_TYPE if profile is Profile.DRIFT else rng.choice(sorted(NORMAL_RANGES))
    low, high = NORMAL_RANGES[sensor_type]
    return _Device(
        number=number,
        profile=profile,
        sensor_type=sensor_type,
        baseline=rng.uniform(low + (high - low) / 4, high - (high - low) / 4),
        phase=CADENCE * rng.random(),
    )


def _readings(device: _Device, count: int, now: datetime, rng: random.Random) -> list[tuple[datetime, float]]:
    low, high = NORMAL_RANGES[device.sensor_type]
    width = high - low
    end = now - device.phase - (FLUSH_OFFLINE if device.profile is Profile.FLUSH else timedelta(0))
    stuck_at = device.baseline + rng.gauss(0, NOISE * width)
    readings = []
    for index in range(count):
        moment = end - (count - 1 - index) * CADENCE
        if device.profile is Profile.DROPOUT and index < count // 2:
            moment -= DROPOUT_GAP
        noise = rng.gauss(0, NOISE * width)
        if device.profile is Profile.DRIFT:
            value = DRIFT_FROM + (DRIFT_TO - DRIFT_FROM) * index / max(count - 1, 1) + noise
        elif device.profile is Profile.STUCK:
            value = stuck_at
        elif device.profile is Profile.DAILY:
            day = (moment.hour * 3600 + moment.minute * 60 + moment.second) / _DAY_SECONDS
            value = device.baseline + DAILY_AMPLITUDE * width * math.sin(2 * math.pi * day) + noise
        else:
            value = device.baseline + noise
        within = value if device.profile is Profile.DRIFT else min(max(value, low), high)
        readings.append((moment, round(within, 3)))
    return readings


def _sensor_id(device: _Device, run_id: str) -> str:
    return f"synthetic-{run_id}-{device.profile}-{device.number:04d}"


def _reading(
    index: int, device: _Device, moment: datetime, value: float, *, run_id: str, bounds: Mapping[str, AnomalyBounds]
) -> SyntheticRecord:
    sensor_id, reading_id = _sensor_id(device, run_id), f"{run_id}-{index:07d}"
    document: dict[str, Any] = {
        "reading_id": reading_id,
        "sensor_id": sensor_id,
        "sensor_type": device.sensor_type,
        "value": value,
        "unit": UNITS[device.sensor_type],
        "timestamp": moment.isoformat(timespec="milliseconds"),
        "site": f"site-{device.number % 5}",
        "synthetic_run": run_id,
    }
    bound = bounds.get(device.sensor_type, AnomalyBounds())
    anomaly = (bound.upper is not None and value > bound.upper) or (bound.lower is not None and value < bound.lower)
    return SyntheticRecord(
        data=json.dumps(document).encode(), partition_key=sensor_id, reading_id=reading_id, sensor_id=sensor_id,
        anomaly=anomaly,
    )  # fmt: skip


def _invalid(index: int, device: _Device, run_id: str, now: datetime) -> SyntheticRecord:
    reason = INVALID_REASONS[index % len(INVALID_REASONS)]
    sensor_id = _sensor_id(device, run_id)
    data = invalid_record(reason, sensor_id=sensor_id, run_id=run_id, now=now)
    return SyntheticRecord(
        data=data, partition_key=sensor_id, reading_id=None, sensor_id=sensor_id, invalid_reason=reason
    )
