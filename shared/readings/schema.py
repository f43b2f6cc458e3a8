"""The producers' contract: one sensor reading, how it is validated, and its idempotency key.

Runtime code (no CDK, no AWS clients), shared by the processor, the smoke test and the synthetic generator.
Version 1; services/iot_processor/README.md documents it with examples.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

SCHEMA_VERSION = 1
MAX_RECORD_BYTES = 4096
EARLIEST_TIMESTAMP = datetime(2000, 1, 1, tzinfo=UTC)
MAX_CLOCK_SKEW = timedelta(minutes=15)
EVALUATED_SENSOR_TYPES = ("temperature", "pressure", "vibration", "humidity")
# Values outside these ranges cannot come from a working sensor: they are quarantined, not flagged.
PHYSICAL_RANGES: dict[str, tuple[Decimal, Decimal]] = {
    "temperature": (Decimal("-273.15"), Decimal(2000)),  # degrees Celsius
    "pressure": (Decimal(0), Decimal(100000)),  # kPa
    "vibration": (Decimal(0), Decimal(1000)),  # mm/s RMS
    "humidity": (Decimal(0), Decimal(100)),  # % relative humidity
}
ANY_TYPE_LIMIT = Decimal("1e15")  # bound for sensor types we store but do not evaluate

_IDENTIFIER = re.compile(r"[A-Za-z0-9._:@/-]{1,128}")
_SENSOR_TYPE = re.compile(r"[a-z][a-z0-9_]{0,31}")
_FIELDS = {
    "schema_version",
    "sensor_id",
    "sensor_type",
    "value",
    "timestamp",
    "unit",
    "site",
    "device",
    "reading_id",
    "synthetic_run",
}


class Reason(StrEnum):
    """Why a record was quarantined; low-cardinality, safe as a metric dimension."""

    NOT_UTF8 = "not_utf8"
    NOT_JSON = "not_json"
    NOT_OBJECT = "not_object"
    OVERSIZE = "oversize"
    MISSING_FIELD = "missing_field"
    UNKNOWN_FIELD = "unknown_field"
    WRONG_TYPE = "wrong_type"
    NOT_FINITE = "not_finite"
    OUT_OF_RANGE = "out_of_range"
    FUTURE_TIMESTAMP = "future_timestamp"
    ANCIENT_TIMESTAMP = "ancient_timestamp"


class InvalidReadingError(ValueError):
    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, kw_only=True)
class Reading:
    sensor_id: str
    sensor_type: str
    value: Decimal
    timestamp: datetime  # always UTC
    reading_id: str  # producer-supplied, or derived from the content so duplicates share it
    unit: str | None = None
    site: str | None = None
    device: str | None = None
    synthetic_run: str | None = None  # set by the smoke test and the generator; analytics filter on it

    @property
    def event_time(self) -> str:
        """ISO-8601 UTC with milliseconds: sorts lexicographically in time order."""
        return self.timestamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    @property
    def sort_key(self) -> str:
        """Distinct for two readings of a sensor at one instant, equal for a retried or duplicated reading."""
        return f"{self.event_time}#{self.reading_id}"

    def to_json(self) -> dict[str, Any]:
        document = {
            "schema_version": SCHEMA_VERSION,
            "reading_id": self.reading_id,
            "sensor_id": self.sensor_id,
            "sensor_type": self.sensor_type,
            "value": str(self.value),
            "timestamp": self.event_time,
            "unit": self.unit,
            "site": self.site,
            "device": self.device,
            "synthetic_run": self.synthetic_run,
        }
        return {key: value for key, value in document.items() if value is not None}


def parse_reading(data: bytes, *, now: datetime) -> Reading:
    """Validate one record's bytes; raise InvalidReadingError naming the first problem found."""
    if len(data) > MAX_RECORD_BYTES:
        raise InvalidReadingError(Reason.OVERSIZE, f"{len(data)} bytes, the limit is {MAX_RECORD_BYTES}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidReadingError(Reason.NOT_UTF8, f"byte {error.start} is not UTF-8") from None
    try:
        document = json.loads(text, parse_float=Decimal, parse_int=Decimal, parse_constant=_reject_constant)
    except InvalidReadingError:
        raise
    except (json.JSONDecodeError, InvalidOperation) as error:
        raise InvalidReadingError(Reason.NOT_JSON, str(error)) from None
    if not isinstance(document, dict):
        raise InvalidReadingError(Reason.NOT_OBJECT, f"expected a JSON object, got {type(document).__name__}")
    return _reading_from(document, now=now)


def _reading_from(document: dict[str, Any], *, now: datetime) -> Reading:
    unknown = sorted(set(document) - _FIELDS)
    if unknown:
        raise InvalidReadingError(Reason.UNKNOWN_FIELD, f"unexpected fields {unknown}")
    version = document.get("schema_version", SCHEMA_VERSION)
    if version != SCHEMA_VERSION or isinstance(version, bool):
        raise InvalidReadingError(Reason.WRONG_TYPE, f"schema_version {version} is not {SCHEMA_VERSION}")
    sensor_id = _required_text(document, "sensor_id", _IDENTIFIER)
    sensor_type = _required_text(document, "sensor_type", _SENSOR_TYPE)
    value = _value(document, sensor_type)
    timestamp = _timestamp(document, now=now)
    reading_id = _text(document, "reading_id", _IDENTIFIER) or content_id(sensor_id, sensor_type, value, timestamp)
    return Reading(
        sensor_id=sensor_id,
        sensor_type=sensor_type,
        value=value,
        timestamp=timestamp,
        reading_id=reading_id,
        unit=_text(document, "unit", re.compile(r".{1,16}")),
        site=_text(document, "site", _IDENTIFIER),
        device=_text(document, "device", _IDENTIFIER),
        synthetic_run=_text(document, "synthetic_run", _IDENTIFIER),
    )


def content_id(sensor_id: str, sensor_type: str, value: Decimal, timestamp: datetime) -> str:
    """A reading's id when the producer gives none: the same reading always gets the same id."""
    canonical = "|".join((sensor_id, sensor_type, format(value.normalize(), "f"), timestamp.isoformat()))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def _reject_constant(name: str) -> None:
    raise InvalidReadingError(Reason.NOT_FINITE, f"{name} is not a finite number")


def _text(document: dict[str, Any], name: str, pattern: re.Pattern[str]) -> str | None:
    if document.get(name) is None:
        return None
    value = document[name]
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise InvalidReadingError(
            Reason.WRONG_TYPE, f"{name} must be a string matching {pattern.pattern}, got {value!r}"
        )
    return value


def _required_text(document: dict[str, Any], name: str, pattern: re.Pattern[str]) -> str:
    value = _text(document, name, pattern)
    if value is None:
        raise InvalidReadingError(Reason.MISSING_FIELD, f"{name} is required")
    return value


def _value(document: dict[str, Any], sensor_type: str) -> Decimal:
    if "value" not in document:
        raise InvalidReadingError(Reason.MISSING_FIELD, "value is required")
    value = document["value"]
    if not isinstance(value, Decimal):
        raise InvalidReadingError(Reason.WRONG_TYPE, f"value must be a number, got {value!r}")
    if not value.is_finite():
        raise InvalidReadingError(Reason.NOT_FINITE, f"value {value} is not finite")
    low, high = PHYSICAL_RANGES.get(sensor_type, (-ANY_TYPE_LIMIT, ANY_TYPE_LIMIT))
    if not low <= value <= high:
        raise InvalidReadingError(Reason.OUT_OF_RANGE, f"{sensor_type} value {value} is outside [{low}, {high}]")
    return value


def _timestamp(document: dict[str, Any], *, now: datetime) -> datetime:
    if "timestamp" not in document:
        raise InvalidReadingError(Reason.MISSING_FIELD, "timestamp is required")
    raw = document["timestamp"]
    if isinstance(raw, Decimal) and raw == raw.to_integral_value():
        try:
            timestamp = datetime.fromtimestamp(int(raw) / 1000, tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise InvalidReadingError(Reason.OUT_OF_RANGE, f"epoch milliseconds {raw} is not a date") from None
    elif isinstance(raw, str):
        try:
            timestamp = datetime.fromisoformat(raw)
        except ValueError:
            raise InvalidReadingError(Reason.WRONG_TYPE, f"timestamp {raw!r} is not ISO-8601") from None
        if timestamp.tzinfo is None:
            raise InvalidReadingError(Reason.WRONG_TYPE, f"timestamp {raw!r} has no UTC offset")
        timestamp = timestamp.astimezone(UTC)
    else:
        raise InvalidReadingError(Reason.WRONG_TYPE, f"timestamp must be ISO-8601 or epoch milliseconds, got {raw!r}")
    if timestamp < EARLIEST_TIMESTAMP:
        raise InvalidReadingError(
            Reason.ANCIENT_TIMESTAMP, f"{timestamp.isoformat()} is before {EARLIEST_TIMESTAMP.date()}"
        )
    if timestamp > now + MAX_CLOCK_SKEW:
        raise InvalidReadingError(Reason.FUTURE_TIMESTAMP, f"{timestamp.isoformat()} is ahead of {now.isoformat()}")
    return timestamp
