"""Synthetic sensor readings for the smoke test, the local run, tests and benchmarks.

Every record says what should become of it (stored, flagged as an anomaly, or quarantined for a reason),
so a checker can prove where each one landed. Readings carry the run id in ``synthetic_run``, which
analytics filter on and which gives them a short TTL in the table.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared.readings.anomalies import DEFAULT_ANOMALY_BOUNDS, AnomalyBounds
from shared.readings.schema import Reason

NORMAL_RANGES = {
    "temperature": (15.0, 35.0),
    "pressure": (95.0, 105.0),
    "vibration": (0.1, 2.0),
    "humidity": (30.0, 70.0),
}
UNITS = {"temperature": "C", "pressure": "kPa", "vibration": "mm/s", "humidity": "%"}


@dataclass(frozen=True, kw_only=True)
class SyntheticRecord:
    data: bytes
    partition_key: str
    reading_id: str | None  # None for records that cannot be parsed into a reading
    sensor_id: str
    anomaly: bool = False
    invalid_reason: Reason | None = None


INVALID_REASONS = (
    Reason.NOT_JSON,
    Reason.NOT_UTF8,
    Reason.MISSING_FIELD,
    Reason.NOT_FINITE,
    Reason.OUT_OF_RANGE,
    Reason.FUTURE_TIMESTAMP,
)


def invalid_record(reason: Reason, *, sensor_id: str, run_id: str, now: datetime) -> bytes:
    """The raw bytes of a record a producer might send that must be quarantined for ``reason``."""
    base: dict[str, Any] = {"sensor_id": sensor_id, "timestamp": now.isoformat(), "synthetic_run": run_id}
    if reason is Reason.NOT_JSON:
        return f'{{"sensor_id": "{sensor_id}", "value": '.encode()
    if reason is Reason.NOT_UTF8:
        return b'{"sensor_id": "\xff\xfe"}'
    if reason is Reason.MISSING_FIELD:
        return json.dumps({**base, "sensor_type": "temperature"}).encode()
    if reason is Reason.NOT_FINITE:
        return json.dumps({**base, "sensor_type": "pressure", "value": float("nan")}).encode()  # json writes NaN
    if reason is Reason.OUT_OF_RANGE:
        return json.dumps({**base, "sensor_type": "humidity", "value": 140}).encode()
    if reason is Reason.FUTURE_TIMESTAMP:
        future = (now + timedelta(days=2)).isoformat()
        return json.dumps({**base, "sensor_type": "temperature", "value": 20, "timestamp": future}).encode()
    raise ValueError(f"no synthetic record for {reason}")


def synthetic_records(
    count: int,
    *,
    run_id: str,
    now: datetime,
    anomaly_share: float = 0.01,
    invalid_share: float = 0.01,
    sensors: int = 200,
    seed: int = 7,
    bounds: Mapping[str, AnomalyBounds] = DEFAULT_ANOMALY_BOUNDS,
) -> list[SyntheticRecord]:
    """``count`` records: normal readings, anomalies and invalid records in the given shares, deterministic."""
    if count < 0 or not 0 <= anomaly_share <= 1 or not 0 <= invalid_share <= 1 or anomaly_share + invalid_share > 1:
        raise ValueError("count must be >= 0 and the shares between 0 and 1, adding up to at most 1")
    rng = random.Random(f"{seed}:{run_id}")  # noqa: S311 - reproducible test data, not secrets
    anomalous_types = [name for name, bound in bounds.items() if bound.upper is not None and name in NORMAL_RANGES]
    invalid_count, anomaly_count = round(count * invalid_share), round(count * anomaly_share)
    kinds = (
        ["invalid"] * invalid_count + ["anomaly"] * anomaly_count + ["normal"] * (count - invalid_count - anomaly_count)
    )
    rng.shuffle(kinds)
    records = []
    for index, kind in enumerate(kinds):
        sensor_id = f"synthetic-{run_id}-{rng.randrange(sensors):04d}"
        if kind == "invalid":
            reason = INVALID_REASONS[index % len(INVALID_REASONS)]
            data = invalid_record(reason, sensor_id=sensor_id, run_id=run_id, now=now)
            records.append(_record(data, sensor_id, reading_id=None, invalid_reason=reason))
            continue
        sensor_type = rng.choice(anomalous_types) if kind == "anomaly" else rng.choice(list(NORMAL_RANGES))
        value = (
            _anomalous_value(bounds[sensor_type], rng)
            if kind == "anomaly"
            else rng.uniform(*NORMAL_RANGES[sensor_type])
        )
        reading_id = f"{run_id}-{index:07d}"
        document: dict[str, Any] = {
            "reading_id": reading_id,
            "sensor_id": sensor_id,
            "sensor_type": sensor_type,
            "value": round(value, 3),
            "unit": UNITS[sensor_type],
            "timestamp": (now - timedelta(milliseconds=count - index)).isoformat(timespec="milliseconds"),
            "site": f"site-{rng.randrange(5)}",
            "synthetic_run": run_id,
        }
        records.append(
            _record(json.dumps(document).encode(), sensor_id, reading_id=reading_id, anomaly=kind == "anomaly")
        )
    return records


def _record(
    data: bytes, sensor_id: str, *, reading_id: str | None, anomaly: bool = False, invalid_reason: Reason | None = None
) -> SyntheticRecord:
    return SyntheticRecord(
        data=data,
        partition_key=sensor_id,
        reading_id=reading_id,
        sensor_id=sensor_id,
        anomaly=anomaly,
        invalid_reason=invalid_reason,
    )


def _anomalous_value(bound: AnomalyBounds, rng: random.Random) -> float:
    assert bound.upper is not None
    return bound.upper * rng.uniform(1.05, 1.5)
