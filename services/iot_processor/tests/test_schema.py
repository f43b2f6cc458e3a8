"""The reading contract: what is accepted, normalised, and rejected with which reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.readings.anomalies import DEFAULT_ANOMALY_BOUNDS, Severity, severity_of
from shared.readings.schema import InvalidReadingError, Reason, parse_reading

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
# Deterministic in CI: the same examples every run; generation of nested JSON can be slow on a cold start.
PROPERTIES = settings(derandomize=True, max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _raw(**fields: object) -> bytes:
    document = {
        "sensor_id": "s-1",
        "sensor_type": "temperature",
        "value": 21.5,
        "timestamp": "2026-11-27T13:00:00+01:00",
    }
    document.update(fields)
    return json.dumps({k: v for k, v in document.items() if v is not None}).encode()


def test_valid_reading_is_normalised_to_utc_with_decimal_value() -> None:
    reading = parse_reading(_raw(unit="C", site="plant-1"), now=NOW)
    assert reading.timestamp == datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    assert reading.value == Decimal("21.5")
    assert isinstance(reading.value, Decimal)
    assert reading.event_time == "2026-11-27T12:00:00.000Z"
    assert (reading.unit, reading.site) == ("C", "plant-1")


def test_epoch_milliseconds_are_accepted() -> None:
    reading = parse_reading(_raw(timestamp=1_795_000_000_123), now=NOW)
    assert reading.timestamp == datetime.fromtimestamp(1_795_000_000.123, tz=UTC)


def test_a_duplicate_gets_the_same_key_and_a_different_reading_at_the_same_instant_does_not() -> None:
    first = parse_reading(_raw(), now=NOW)
    duplicate = parse_reading(_raw(), now=NOW)
    other_value = parse_reading(_raw(value=22.0), now=NOW)
    assert first.sort_key == duplicate.sort_key
    assert first.sort_key != other_value.sort_key
    assert first.event_time == other_value.event_time


def test_the_current_schema_version_may_be_stated() -> None:
    assert parse_reading(_raw(schema_version=1), now=NOW) == parse_reading(_raw(), now=NOW)


def test_another_schema_version_is_rejected() -> None:
    with pytest.raises(InvalidReadingError, match="schema_version 2 is not 1"):
        parse_reading(_raw(schema_version=2), now=NOW)


def test_producer_reading_id_is_kept() -> None:
    assert parse_reading(_raw(reading_id="dev-42:7"), now=NOW).reading_id == "dev-42:7"


def test_unknown_sensor_types_are_stored_but_not_evaluated() -> None:
    reading = parse_reading(_raw(sensor_type="co2", value=99999), now=NOW)
    assert severity_of(reading, DEFAULT_ANOMALY_BOUNDS) is None


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\xff\xfe", Reason.NOT_UTF8),
        (b"{not json", Reason.NOT_JSON),
        (b"[1, 2]", Reason.NOT_OBJECT),
        (b" " * 5000, Reason.OVERSIZE),
        (_raw(sensor_id=None), Reason.MISSING_FIELD),
        (_raw(value=None), Reason.MISSING_FIELD),
        (_raw(timestamp=None), Reason.MISSING_FIELD),
        (_raw(value="21"), Reason.WRONG_TYPE),
        (_raw(sensor_id=7), Reason.WRONG_TYPE),
        (_raw(sensor_id="has#hash"), Reason.WRONG_TYPE),
        (_raw(timestamp="yesterday"), Reason.WRONG_TYPE),
        (_raw(timestamp="2026-11-27T12:00:00"), Reason.WRONG_TYPE),
        (_raw(timestamp=True), Reason.WRONG_TYPE),
        (b'{"sensor_id": "s", "sensor_type": "temperature", "value": NaN, "timestamp": 1}', Reason.NOT_FINITE),
        (b'{"sensor_id": "s", "sensor_type": "temperature", "value": Infinity, "timestamp": 1}', Reason.NOT_FINITE),
        (_raw(value=-300), Reason.OUT_OF_RANGE),
        (_raw(sensor_type="humidity", value=101), Reason.OUT_OF_RANGE),
        (_raw(timestamp="2026-11-28T12:00:00Z"), Reason.FUTURE_TIMESTAMP),
        (_raw(timestamp="1999-12-31T23:59:59Z"), Reason.ANCIENT_TIMESTAMP),
        (_raw(colour="red"), Reason.UNKNOWN_FIELD),
    ],
)
def test_invalid_input_names_its_reason(data: bytes, reason: Reason) -> None:
    with pytest.raises(InvalidReadingError) as error:
        parse_reading(data, now=NOW)
    assert error.value.reason is reason
    assert error.value.detail


@pytest.mark.parametrize(
    ("sensor_type", "value", "severity"),
    [
        ("temperature", 100, None),
        ("temperature", "100.5", Severity.WARNING),
        ("temperature", 130, Severity.CRITICAL),
        ("pressure", 151, Severity.WARNING),
        ("vibration", 5.5, Severity.WARNING),
        ("vibration", 9, Severity.CRITICAL),
        ("humidity", 99, None),
    ],
)
def test_anomaly_thresholds(sensor_type: str, value: object, severity: Severity | None) -> None:
    raw = _raw(sensor_type=sensor_type).replace(b"21.5", str(value).encode())
    assert severity_of(parse_reading(raw, now=NOW), DEFAULT_ANOMALY_BOUNDS) == severity


@PROPERTIES
@given(st.binary(max_size=600))
def test_decoder_never_raises_anything_but_invalid_reading(data: bytes) -> None:
    try:
        parse_reading(data, now=NOW)
    except InvalidReadingError as error:
        reason = error.reason
    else:
        return
    assert reason in Reason


@PROPERTIES
@given(
    st.dictionaries(
        st.sampled_from(["sensor_id", "sensor_type", "value", "timestamp", "unit", "reading_id", "extra"]),
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(),
            st.floats(),
            st.text(max_size=20),
            st.lists(st.integers(), max_size=2),
        ),
    )
)
def test_decoder_handles_arbitrary_json_objects(document: dict[str, object]) -> None:
    try:
        reading = parse_reading(json.dumps(document).encode(), now=NOW)
    except InvalidReadingError:
        return
    assert reading.value.is_finite()
    assert reading.timestamp.tzinfo is UTC


@PROPERTIES
@given(st.decimals(allow_nan=False, allow_infinity=False, min_value=-273, max_value=1999, places=3))
def test_any_physical_temperature_round_trips_exactly(value: Decimal) -> None:
    raw = json.dumps({"sensor_id": "s", "sensor_type": "temperature", "timestamp": 1_795_000_000_000}).encode()
    raw = raw[:-1] + f', "value": {value}}}'.encode()
    assert parse_reading(raw, now=NOW).value == value
