"""The producers' contract: one sensor reading, how it is validated, and its idempotency key.

Runtime code (no CDK, no AWS clients), shared by the processor, the smoke test and the synthetic generator.
Version 1; docs/reading-contract.md documents every rule with its reason code and examples.

Any bytes a device sends end in a Reading or an InvalidReadingError, in bounded time and memory: numbers are
compared and rounded as Decimals before anything expands them (an epoch of 1e999999999 milliseconds must not
become an integer of a billion digits), and every value that reaches the table is one DynamoDB can store.
"""

from __future__ import annotations

import hashlib
import json
import re
import types
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import MAX_EMAX, MIN_EMIN, ROUND_HALF_EVEN, Context, Decimal, InvalidOperation
from enum import StrEnum
from functools import cached_property
from typing import Any

SCHEMA_VERSION = 1
MAX_RECORD_BYTES = 4096
EARLIEST_TIMESTAMP = datetime(2000, 1, 1, tzinfo=UTC)
MAX_CLOCK_SKEW = timedelta(minutes=15)
# Values outside these ranges cannot come from a working sensor: they are quarantined, not flagged.
PHYSICAL_RANGES: dict[str, tuple[Decimal, Decimal]] = {
    "temperature": (Decimal("-273.15"), Decimal(2000)),  # degrees Celsius
    "pressure": (Decimal(0), Decimal(100000)),  # kPa
    "vibration": (Decimal(0), Decimal(1000)),  # mm/s RMS
    "humidity": (Decimal(0), Decimal(100)),  # % relative humidity
}
ANY_TYPE_LIMIT = Decimal("1e15")  # bound for sensor types we store but do not evaluate
# DynamoDB numbers: 38 significant digits, magnitudes from 1E-130 to just below 1E+126. More precise values are
# rounded (half-even) to 38 digits, far beyond any sensor's resolution; smaller non-zero magnitudes are quarantined.
STORED_DIGITS = 38
SMALLEST_STORED_MAGNITUDE = Decimal("1E-130")
LARGEST_STORED_MAGNITUDE = Decimal("9.9999999999999999999999999999999999999E+125")
# Unbounded exponents: rounding only ever shortens the coefficient, it never overflows or clamps.
_STORED_NUMBERS = Context(prec=STORED_DIGITS, rounding=ROUND_HALF_EVEN, Emin=MIN_EMIN, Emax=MAX_EMAX, traps=[])
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DETAIL_LIMIT = 200  # characters of an offending value quoted in a detail; a detail never echoes a whole record


@dataclass(frozen=True)
class TextRule:
    """A text field's characters and length. The published JSON Schema is generated from these same rules.

    ``characters`` is a regex character class that Python and ECMA-262 (JSON Schema's dialect) read alike: explicit
    ranges and ``\\uXXXX`` escapes of the Basic Multilingual Plane, never ``\\d``, ``\\w`` or ``\\s``, whose
    meaning differs between the dialects.
    """

    characters: str
    max_length: int
    description: str
    first_character: str | None = None  # a narrower class for the first character

    @cached_property
    def pattern(self) -> re.Pattern[str]:
        if self.first_character is None:
            return re.compile(f"{self.characters}{{1,{self.max_length}}}")
        return re.compile(f"{self.first_character}{self.characters}{{0,{self.max_length - 1}}}")


IDENTIFIER = TextRule("[A-Za-z0-9._:@/-]", 128, "1 to 128 of A-Z a-z 0-9 . _ : @ / -")
SENSOR_TYPE = TextRule("[a-z0-9_]", 32, "a lowercase letter, then up to 31 of a-z 0-9 _", first_character="[a-z]")
UNIT = TextRule("[^\\u0000-\\u001f\\u007f-\\u009f]", 16, "1 to 16 printable Unicode characters")
# A "\\ud800" escape is valid JSON, but such text cannot be encoded as UTF-8 and would fail every writer downstream.
# No character class can refuse it in both dialects (ECMA-262 sees every character past U+FFFF as two surrogates).
_LONE_SURROGATE = re.compile("[\\ud800-\\udfff]")
TEXT_FIELDS: Mapping[str, TextRule] = types.MappingProxyType(
    {
        "sensor_id": IDENTIFIER,
        "sensor_type": SENSOR_TYPE,
        "reading_id": IDENTIFIER,
        "unit": UNIT,
        "site": IDENTIFIER,
        "device": IDENTIFIER,
        "synthetic_run": IDENTIFIER,
    }
)
REQUIRED_FIELDS = ("sensor_id", "sensor_type", "value", "timestamp")
FIELDS = frozenset({"schema_version", "value", "timestamp", *TEXT_FIELDS})
# The ISO-8601 forms a timestamp may take: a calendar date, extended (2026-11-27T13:00:00.25+01:00, "t" or a space
# for "T") or basic (20261127T130000Z), minutes required, seconds and a fraction optional, and always an offset.
# datetime.fromisoformat alone also took any character as the separator, week dates and more, differently from one
# Python version to the next. The published schema carries this pattern; classes only, no \\d (see TextRule).
_DATE_EXTENDED = "[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
_DATE_BASIC = "[0-9]{4}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
_HOUR, _SIXTY = "(?:[01][0-9]|2[0-3])", "[0-5][0-9]"
_FRACTION = "(?:[.,][0-9]+)?"
_OFFSET = f"(?:Z|[+-]{_HOUR}(?::?{_SIXTY})?)"
ISO_TIMESTAMP = re.compile(
    f"(?:{_DATE_EXTENDED}[Tt ]{_HOUR}:{_SIXTY}(?::{_SIXTY}{_FRACTION})?"
    f"|{_DATE_BASIC}T{_HOUR}{_SIXTY}(?:{_SIXTY}{_FRACTION})?){_OFFSET}"
)


class Reason(StrEnum):
    """Why a record was quarantined; low-cardinality, safe as a metric dimension."""

    NOT_UTF8 = "not_utf8"
    NOT_JSON = "not_json"
    NOT_OBJECT = "not_object"
    OVERSIZE = "oversize"
    DUPLICATE_FIELD = "duplicate_field"
    MISSING_FIELD = "missing_field"
    UNKNOWN_FIELD = "unknown_field"
    WRONG_TYPE = "wrong_type"
    NOT_FINITE = "not_finite"
    OUT_OF_RANGE = "out_of_range"
    UNSTORABLE_NUMBER = "unstorable_number"
    FUTURE_TIMESTAMP = "future_timestamp"
    ANCIENT_TIMESTAMP = "ancient_timestamp"
    # Decided by the processor, not by parse_reading:
    REJECTED_BY_STORE = "rejected_by_store"  # the table refused this one item (a validation error), not retryable
    UNPROCESSABLE = "unprocessable"  # an unexpected error while judging this record; the detail names its type
    CORRUPT_AGGREGATE = "corrupt_aggregate"  # KPL magic bytes, but not a whole aggregate; the detail says what


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

    @cached_property  # read for every key, index value, line and alert of the reading
    def event_time(self) -> str:
        """ISO-8601 UTC with milliseconds: sorts lexicographically in time order."""
        return self.timestamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    @cached_property
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
        document = _DECODER.decode(text)
    except json.JSONDecodeError as error:
        raise InvalidReadingError(Reason.NOT_JSON, str(error)) from None
    except InvalidOperation:
        raise InvalidReadingError(Reason.NOT_JSON, "a number's exponent is too large to decode") from None
    except RecursionError:
        # A reading is a flat object; nesting deep enough to exhaust the decoder's stack is never one.
        raise InvalidReadingError(Reason.NOT_JSON, "nested too deeply to decode") from None
    if not isinstance(document, dict):
        raise InvalidReadingError(Reason.NOT_OBJECT, f"expected a JSON object, got {type(document).__name__}")
    return _reading_from(document, now=now)


def _reading_from(document: dict[str, Any], *, now: datetime) -> Reading:
    unknown = sorted(set(document) - FIELDS)
    if unknown:
        raise InvalidReadingError(Reason.UNKNOWN_FIELD, f"unexpected fields {_quote(unknown)}")
    version = document.get("schema_version", SCHEMA_VERSION)
    if isinstance(version, bool) or version != SCHEMA_VERSION:
        raise InvalidReadingError(Reason.WRONG_TYPE, f"schema_version {_quote(version)} is not {SCHEMA_VERSION}")
    sensor_id = _required_text(document, "sensor_id")
    sensor_type = _required_text(document, "sensor_type")
    value = _value(document, sensor_type)
    timestamp = _timestamp(document, now=now)
    reading_id = _text(document, "reading_id") or content_id(sensor_id, sensor_type, value, timestamp)
    return Reading(
        sensor_id=sensor_id,
        sensor_type=sensor_type,
        value=value,
        timestamp=timestamp,
        reading_id=reading_id,
        unit=_text(document, "unit"),
        site=_text(document, "site"),
        device=_text(document, "device"),
        synthetic_run=_text(document, "synthetic_run"),
    )


def content_id(sensor_id: str, sensor_type: str, value: Decimal, timestamp: datetime) -> str:
    """A reading's id when the producer gives none: the same reading always gets the same id.

    ``value`` is a stored value (at most 38 digits, magnitude at least 1E-130), so its plain form is short.
    """
    plain = format(_STORED_NUMBERS.normalize(value), "f")
    canonical = "|".join((sensor_id, sensor_type, plain, timestamp.isoformat()))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def _reject_constant(name: str) -> None:
    raise InvalidReadingError(Reason.NOT_FINITE, f"{name} is not a finite number")


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Decoders disagree on which of two equal keys wins; a reading must mean one thing to every reader.
    document = dict(pairs)
    if len(document) != len(pairs):
        duplicates = sorted(name for name, count in Counter(name for name, _ in pairs).items() if count > 1)
        raise InvalidReadingError(Reason.DUPLICATE_FIELD, f"fields given more than once: {_quote(duplicates)}")
    return document


# One decoder for every record: json.loads with options builds a new one per call.
_DECODER = json.JSONDecoder(
    parse_float=Decimal,
    parse_int=Decimal,
    parse_constant=_reject_constant,
    object_pairs_hook=_object_without_duplicates,
)


def _quote(value: object) -> str:
    """An offending value as JSON would show it (repr for text), cut to DETAIL_LIMIT characters."""
    text = str(value) if isinstance(value, Decimal) else repr(value)
    return text if len(text) <= DETAIL_LIMIT else f"{text[:DETAIL_LIMIT]}... ({len(text)} characters)"


def _text(document: dict[str, Any], name: str) -> str | None:
    if document.get(name) is None:
        if name in REQUIRED_FIELDS:
            raise InvalidReadingError(Reason.MISSING_FIELD, f"{name} is required")
        return None
    value, rule = document[name], TEXT_FIELDS[name]
    if not isinstance(value, str) or not rule.pattern.fullmatch(value) or _LONE_SURROGATE.search(value):
        raise InvalidReadingError(
            Reason.WRONG_TYPE, f"{name} must be a string of {rule.description}, got {_quote(value)}"
        )
    return value


def _required_text(document: dict[str, Any], name: str) -> str:
    value = _text(document, name)
    assert value is not None  # _text refuses a required field's absence
    return value


def _value(document: dict[str, Any], sensor_type: str) -> Decimal:
    if "value" not in document:
        raise InvalidReadingError(Reason.MISSING_FIELD, "value is required")
    raw = document["value"]
    if not isinstance(raw, Decimal):
        raise InvalidReadingError(Reason.WRONG_TYPE, f"value must be a number, got {_quote(raw)}")
    if not raw.is_finite():
        raise InvalidReadingError(Reason.NOT_FINITE, f"value {_quote(raw)} is not finite")
    value = stored_number(raw)
    low, high = PHYSICAL_RANGES.get(sensor_type, (-ANY_TYPE_LIMIT, ANY_TYPE_LIMIT))
    if not low <= value <= high:
        raise InvalidReadingError(
            Reason.OUT_OF_RANGE, f"{sensor_type} value {_quote(value)} is outside [{low}, {high}]"
        )
    magnitude = value.copy_abs()  # abs() would round in the default context and turn 1E-999999999 into 0
    if magnitude and not SMALLEST_STORED_MAGNITUDE <= magnitude <= LARGEST_STORED_MAGNITUDE:
        raise InvalidReadingError(
            Reason.UNSTORABLE_NUMBER,
            f"value {_quote(value)} has a magnitude DynamoDB cannot store "
            f"(from {SMALLEST_STORED_MAGNITUDE} to {LARGEST_STORED_MAGNITUDE})",
        )
    return value


def stored_number(value: Decimal) -> Decimal:
    """The value as the table keeps it: rounded half-even to 38 significant digits; every zero is plain 0."""
    if value.is_zero():
        return Decimal(0)  # -0 and 0E-500 alike: DynamoDB has one zero, and 0E-500 is outside its exponents
    return _STORED_NUMBERS.plus(value)


def _timestamp(document: dict[str, Any], *, now: datetime) -> datetime:
    if "timestamp" not in document:
        raise InvalidReadingError(Reason.MISSING_FIELD, "timestamp is required")
    raw = document["timestamp"]
    latest = now + MAX_CLOCK_SKEW
    if isinstance(raw, Decimal) and raw.is_finite() and raw == raw.to_integral_value():
        timestamp = _from_epoch_milliseconds(raw, latest=latest)
    elif isinstance(raw, str):
        timestamp = _from_iso(raw)
    else:
        raise InvalidReadingError(
            Reason.WRONG_TYPE, f"timestamp must be ISO-8601 or epoch milliseconds, got {_quote(raw)}"
        )
    if timestamp < EARLIEST_TIMESTAMP:
        raise InvalidReadingError(
            Reason.ANCIENT_TIMESTAMP, f"{timestamp.isoformat()} is before {EARLIEST_TIMESTAMP.date()}"
        )
    if timestamp > latest:
        raise InvalidReadingError(Reason.FUTURE_TIMESTAMP, f"{timestamp.isoformat()} is ahead of {now.isoformat()}")
    return timestamp


def _from_epoch_milliseconds(raw: Decimal, *, latest: datetime) -> datetime:
    # Compared as Decimals first: only a value inside the window is ever turned into an int, so the work stays
    # bounded whatever the exponent.
    if raw < _epoch_milliseconds(EARLIEST_TIMESTAMP):
        raise InvalidReadingError(
            Reason.ANCIENT_TIMESTAMP, f"epoch milliseconds {_quote(raw)} is before {EARLIEST_TIMESTAMP.date()}"
        )
    if raw > _epoch_milliseconds(latest):
        raise InvalidReadingError(
            Reason.FUTURE_TIMESTAMP, f"epoch milliseconds {_quote(raw)} is ahead of {latest.isoformat()}"
        )
    return _EPOCH + timedelta(milliseconds=int(raw))


def _epoch_milliseconds(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def _from_iso(raw: str) -> datetime:
    try:
        timestamp = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidReadingError(Reason.WRONG_TYPE, f"timestamp {_quote(raw)} is not ISO-8601") from None
    if timestamp.tzinfo is None:
        raise InvalidReadingError(Reason.WRONG_TYPE, f"timestamp {_quote(raw)} has no UTC offset")
    if not ISO_TIMESTAMP.fullmatch(raw):
        raise InvalidReadingError(Reason.WRONG_TYPE, f"timestamp {_quote(raw)} is not in an accepted ISO-8601 form")
    try:
        return timestamp.astimezone(UTC)
    except OverflowError:
        # 0001-01-01T00:00+01:00 or 9999-12-31T23:59-01:00: valid ISO-8601, but the UTC instant has no datetime.
        reason = Reason.ANCIENT_TIMESTAMP if timestamp.year == 1 else Reason.FUTURE_TIMESTAMP
        raise InvalidReadingError(reason, f"timestamp {_quote(raw)} is outside the dates UTC can hold") from None
