"""The reading contract: what is accepted, normalised, and rejected with which reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.readings.schema import InvalidReadingError, Reason, parse_reading
from shared.testing.properties import property_settings

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
PROPERTIES = property_settings(300)


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


@PROPERTIES
@given(st.binary(max_size=600))
def test_decoder_never_raises_anything_but_invalid_reading(data: bytes) -> None:
    """Any other exception fails this test: the processor quarantines InvalidReadingError and nothing else."""
    try:
        parse_reading(data, now=NOW)
    except InvalidReadingError as error:
        problem = error
    else:
        return
    assert problem.detail.strip(), f"{problem.reason} without a detail"
    assert str(problem) == f"{problem.reason}: {problem.detail}"


JSON_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20), st.lists(st.integers(), max_size=2)
)


@PROPERTIES
@given(
    st.dictionaries(
        st.sampled_from(
            ["schema_version", "sensor_id", "sensor_type", "value", "timestamp", "unit", "reading_id", "extra"]
        ),
        JSON_VALUES,
        max_size=3,
    )
)
def test_a_valid_reading_with_arbitrary_fields_replaced_is_accepted_only_if_still_valid(
    overrides: dict[str, object],
) -> None:
    document = {"sensor_id": "s-1", "sensor_type": "temperature", "value": 21.5, "timestamp": 1_795_000_000_000}
    document.update(overrides)
    try:
        reading = parse_reading(json.dumps(document).encode(), now=NOW)
    except InvalidReadingError:
        return
    # Accepted: then every field had the contract's type; a boolean is neither a number nor a version.
    value, version = document["value"], document.get("schema_version", 1)
    assert isinstance(value, int | float), value
    assert not isinstance(value, bool), value
    assert reading.value == Decimal(json.dumps(value))
    assert version == 1, version
    assert not isinstance(version, bool), version
    assert (reading.sensor_id, reading.sensor_type) == (document["sensor_id"], document["sensor_type"])
    assert "extra" not in document
    assert reading.timestamp.tzinfo is UTC


@PROPERTIES
@given(st.decimals(allow_nan=False, allow_infinity=False, min_value=-273, max_value=1999, places=3))
def test_any_physical_temperature_round_trips_exactly(value: Decimal) -> None:
    raw = json.dumps({"sensor_id": "s", "sensor_type": "temperature", "timestamp": 1_795_000_000_000}).encode()
    raw = raw[:-1] + f', "value": {value}}}'.encode()
    assert parse_reading(raw, now=NOW).value == value


# Both sides of every limit of the contract (services/iot_processor/README.md): the last accepted value and the
# first rejected one, written out here rather than read from the module, so a moved limit fails a test. Epoch
# milliseconds at both time limits and the DynamoDB number limits are in test_hostile_input.py.


def _with_value(literal: str, *, sensor_type: str = "temperature") -> bytes:
    return _raw(sensor_type=sensor_type, value=0).replace(b'"value": 0', f'"value": {literal}'.encode())


def _reason(data: bytes) -> Reason:
    with pytest.raises(InvalidReadingError) as error:
        parse_reading(data, now=NOW)
    return error.value.reason


def _padded_to(size: int) -> bytes:
    data = _raw()
    return data + b" " * (size - len(data))  # JSON allows trailing whitespace


def test_a_record_of_exactly_4096_bytes_is_accepted_and_4097_is_oversize() -> None:
    assert parse_reading(_padded_to(4096), now=NOW).sensor_id == "s-1"
    with pytest.raises(InvalidReadingError, match="4097 bytes, the limit is 4096") as error:
        parse_reading(_padded_to(4097), now=NOW)
    assert error.value.reason is Reason.OVERSIZE


@pytest.mark.parametrize(
    ("timestamp", "accepted"),
    [
        ("2026-11-27T12:15:00.000Z", True),  # NOW + 15 min: the clock-skew limit itself
        ("2026-11-27T12:15:00.001Z", False),
        ("2026-11-27T13:14:00+01:00", True),  # the same limit seen from another offset
        ("2026-11-27T13:15:00.001+01:00", False),
    ],
)
def test_a_reading_may_be_at_most_15_minutes_ahead(timestamp: str, accepted: bool) -> None:
    if accepted:
        assert parse_reading(_raw(timestamp=timestamp), now=NOW).timestamp <= NOW + timedelta(minutes=15)
    else:
        assert _reason(_raw(timestamp=timestamp)) is Reason.FUTURE_TIMESTAMP


@pytest.mark.parametrize(
    ("timestamp", "accepted"),
    [
        ("2000-01-01T00:00:00Z", True),
        ("1999-12-31T23:59:59.999Z", False),
        ("2000-01-01T01:00:00+01:00", True),  # 2000-01-01T00:00Z
        ("2000-01-01T00:59:59+01:00", False),
    ],
)
def test_a_reading_may_not_be_older_than_2000(timestamp: str, accepted: bool) -> None:
    if accepted:
        assert parse_reading(_raw(timestamp=timestamp), now=NOW).timestamp == datetime(2000, 1, 1, tzinfo=UTC)
    else:
        assert _reason(_raw(timestamp=timestamp)) is Reason.ANCIENT_TIMESTAMP


@pytest.mark.parametrize(
    ("timestamp", "detail"),
    [
        (946_684_799_999, "epoch milliseconds 946684799999 is before 2000-01-01"),
        (1_795_781_700_001, "epoch milliseconds 1795781700001 is ahead of 2026-11-27T12:15:00+00:00"),
    ],
)
def test_an_epoch_outside_the_window_is_named_in_the_detail(timestamp: int, detail: str) -> None:
    with pytest.raises(InvalidReadingError) as error:
        parse_reading(_raw(timestamp=timestamp), now=NOW)
    assert error.value.detail == detail


def test_epoch_milliseconds_keep_their_milliseconds_and_must_be_whole() -> None:
    assert parse_reading(_raw(timestamp=1_795_000_000_999), now=NOW).event_time == "2026-11-18T11:06:40.999Z"
    assert parse_reading(_raw(timestamp=1.795e12), now=NOW).event_time == "2026-11-18T11:06:40.000Z"
    with pytest.raises(InvalidReadingError, match="timestamp must be ISO-8601 or epoch milliseconds") as error:
        parse_reading(_raw(timestamp=1_795_000_000_000.5), now=NOW)
    assert error.value.reason is Reason.WRONG_TYPE


@pytest.mark.parametrize(
    ("sensor_type", "lowest", "highest", "below", "above"),
    [
        ("temperature", "-273.15", "2000", "-273.16", "2000.001"),
        ("pressure", "0", "100000", "-0.001", "100000.001"),
        ("vibration", "0", "1000", "-0.001", "1000.001"),
        ("humidity", "0", "100", "-0.001", "100.001"),
        ("co2", "-1e15", "1e15", "-1000000000000000.1", "1000000000000000.1"),  # types we store, not evaluate
    ],
)
def test_physical_ranges_include_both_ends_and_nothing_past_them(
    sensor_type: str, lowest: str, highest: str, below: str, above: str
) -> None:
    for literal in (lowest, highest):
        assert parse_reading(_with_value(literal, sensor_type=sensor_type), now=NOW).value == Decimal(literal)
    for literal in (below, above):
        with pytest.raises(InvalidReadingError, match=f"{sensor_type} value .* is outside") as error:
            parse_reading(_with_value(literal, sensor_type=sensor_type), now=NOW)
        assert error.value.reason is Reason.OUT_OF_RANGE


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("value", True, "value must be a number"),
        ("value", False, "value must be a number"),
        ("schema_version", True, "schema_version True is not 1"),
        ("schema_version", "1", "schema_version '1' is not 1"),
        ("schema_version", 0, "schema_version 0 is not 1"),
        ("timestamp", False, "timestamp must be ISO-8601 or epoch milliseconds"),
        ("sensor_type", True, "sensor_type must be a string"),
    ],
)
def test_booleans_and_strings_are_not_numbers_or_versions(field: str, value: object, message: str) -> None:
    with pytest.raises(InvalidReadingError, match=message) as error:
        parse_reading(_raw(**{field: value}), now=NOW)
    assert error.value.reason is Reason.WRONG_TYPE


@pytest.mark.parametrize(
    ("field", "longest", "pattern"),
    [
        ("sensor_id", "a" * 128, None),
        ("reading_id", "r" * 128, None),
        ("site", "s" * 128, None),
        ("device", "d" * 128, None),
        ("synthetic_run", "x" * 128, None),
        ("sensor_type", "t" * 32, None),
        ("unit", "u" * 16, None),
    ],
)
def test_text_fields_have_a_length_limit_on_both_sides(field: str, longest: str, pattern: None) -> None:
    reading = parse_reading(_raw(**{field: longest}), now=NOW)
    assert getattr(reading, field) == longest
    with pytest.raises(InvalidReadingError, match=f"{field} must be a string of") as error:
        parse_reading(_raw(**{field: longest + longest[0]}), now=NOW)
    assert error.value.reason is Reason.WRONG_TYPE
    with pytest.raises(InvalidReadingError, match=f"{field} must be a string of"):
        parse_reading(_raw(**{field: ""}), now=NOW)


@pytest.mark.parametrize(
    ("fields", "reason", "detail"),
    [
        ({"sensor_id": None}, Reason.MISSING_FIELD, "sensor_id is required"),
        ({"sensor_type": None}, Reason.MISSING_FIELD, "sensor_type is required"),
        ({"value": None}, Reason.MISSING_FIELD, "value is required"),
        ({"timestamp": None}, Reason.MISSING_FIELD, "timestamp is required"),
        (
            {"sensor_type": "9lives"},
            Reason.WRONG_TYPE,
            "sensor_type must be a string of a lowercase letter, then up to 31 of a-z 0-9 _, got '9lives'",
        ),
        ({"timestamp": "2026-11-27T12:00:00"}, Reason.WRONG_TYPE, "timestamp '2026-11-27T12:00:00' has no UTC offset"),
        ({"timestamp": "noon"}, Reason.WRONG_TYPE, "timestamp 'noon' is not ISO-8601"),
        ({"timestamp": False}, Reason.WRONG_TYPE, "timestamp must be ISO-8601 or epoch milliseconds, got False"),
        (
            {"timestamp": "0001-01-01T00:00:00+01:00"},
            Reason.ANCIENT_TIMESTAMP,
            "timestamp '0001-01-01T00:00:00+01:00' is outside the dates UTC can hold",
        ),
        ({"colour": "red", "shade": "dark"}, Reason.UNKNOWN_FIELD, "unexpected fields ['colour', 'shade']"),
    ],
)
def test_each_rejection_names_the_field(fields: dict[str, object], reason: Reason, detail: str) -> None:
    with pytest.raises(InvalidReadingError) as error:
        parse_reading(_raw(**fields), now=NOW)
    assert error.value.reason is reason
    assert error.value.detail == detail


def test_a_time_with_an_offset_is_kept_in_utc_whatever_the_local_zone(local_time_zone: str) -> None:
    assert parse_reading(_raw(), now=NOW).event_time == "2026-11-27T12:00:00.000Z"


def test_the_content_id_of_a_reading_never_changes_between_versions() -> None:
    # A producer that resends a reading after a deploy must hit the same item: the id is part of the table key.
    assert parse_reading(_raw(value=1000), now=NOW).reading_id == "0971ed4676eb357138c20ee2d4b4b1a6"
    assert parse_reading(_raw(), now=NOW).reading_id == "f813b1e3892e0e040e92e471fd78a1f7"


def test_a_null_optional_field_is_the_same_as_an_absent_one() -> None:
    explicit_nulls = json.dumps(
        {
            "sensor_id": "s-1",
            "sensor_type": "temperature",
            "value": 21.5,
            "timestamp": "2026-11-27T12:00:00Z",
            "unit": None,
            "site": None,
            "device": None,
            "reading_id": None,
            "synthetic_run": None,
        }
    ).encode()
    assert parse_reading(explicit_nulls, now=NOW) == parse_reading(_raw(), now=NOW)


def test_every_optional_field_is_kept_and_written_back_out() -> None:
    optional = {"unit": "C", "site": "plant-1", "device": "dev-9", "reading_id": "r-1", "synthetic_run": "run-1"}
    reading = parse_reading(_raw(schema_version=1, **optional), now=NOW)
    assert reading.to_json() == {
        "schema_version": 1,
        "sensor_id": "s-1",
        "sensor_type": "temperature",
        "value": "21.5",
        "timestamp": "2026-11-27T12:00:00.000Z",
        **optional,
    }
    assert set(parse_reading(_raw(), now=NOW).to_json()) == {
        "schema_version",
        "reading_id",
        "sensor_id",
        "sensor_type",
        "value",
        "timestamp",
    }


def test_the_sort_key_is_event_time_then_reading_id() -> None:
    assert parse_reading(_raw(reading_id="r-1"), now=NOW).sort_key == "2026-11-27T12:00:00.000Z#r-1"


def test_the_content_id_ignores_how_a_number_is_written_but_not_what_it_is() -> None:
    first = parse_reading(_with_value("21.5"), now=NOW).reading_id
    assert first == parse_reading(_with_value("21.50"), now=NOW).reading_id
    assert first == parse_reading(_raw(timestamp="2026-11-27T12:00:00Z"), now=NOW).reading_id  # same instant
    assert len(first) == 32
    assert set(first) <= set("0123456789abcdef")
    others = [
        _with_value("21.6"),
        _raw(sensor_id="s-2"),
        _raw(sensor_type="humidity"),
        _raw(timestamp="2026-11-27T12:00:00.001Z"),
    ]
    assert all(parse_reading(data, now=NOW).reading_id != first for data in others)


@pytest.mark.parametrize(
    ("data", "detail"),
    [
        (b'{"value": 1e99999999999999999999}', "a number's exponent is too large to decode"),
        (b"[" * 4000, "nested too deeply to decode"),
        (b"[1, 2]", "expected a JSON object, got list"),
        (_raw()[:-1] + b', "unit": "C", "unit": "F"}', "fields given more than once: ['unit']"),  # exactly twice
        (_raw(value="21"), "value must be a number, got '21'"),
        (_with_value("101", sensor_type="humidity"), "humidity value 101 is outside [0, 100]"),
        (
            _raw(sensor_id="x" * 198),
            f"sensor_id must be a string of 1 to 128 of A-Z a-z 0-9 . _ : @ / -, got '{'x' * 198}'",
        ),
        (
            _raw(sensor_id="x" * 199),
            f"sensor_id must be a string of 1 to 128 of A-Z a-z 0-9 . _ : @ / -, got '{'x' * 199}... (201 characters)",
        ),
    ],
    ids=["exponent", "nesting", "array", "duplicate", "string value", "range", "quoted whole", "quoted cut"],
)
def test_the_detail_names_the_problem_and_quotes_at_most_200_characters(data: bytes, detail: str) -> None:
    with pytest.raises(InvalidReadingError) as error:
        parse_reading(data, now=NOW)
    assert error.value.detail == detail


def test_an_unstorable_magnitude_is_named() -> None:
    with pytest.raises(InvalidReadingError) as error:
        parse_reading(_with_value("1e-131"), now=NOW)
    assert error.value.detail.startswith("value 1E-131 has a magnitude DynamoDB cannot store")


@pytest.mark.parametrize(
    "timestamp",
    [
        "2026-11-27T13:00:00+01:00",
        "2026-11-27T12:00:00.250Z",
        "2026-11-27 12:00:00.123456+00:00",  # str() of a Python datetime
        "2026-11-27t12:00Z",  # minutes are enough; RFC 3339 allows a lowercase t
        "2026-11-27T13:00:00,5+0100",  # a decimal comma; strftime's %z offset
        "2026-11-27T07:00-05",  # an offset of whole hours
        "20261127T120000Z",  # the basic format
        "20261127T1300+01",
        "20261127T130000.5+01:00",
    ],
)
def test_the_iso_forms_of_the_contract_are_accepted(timestamp: str) -> None:
    assert parse_reading(_raw(timestamp=timestamp), now=NOW).timestamp.date() == NOW.date()


@pytest.mark.parametrize(
    "timestamp",
    [
        "2026-11-27X12:00:00Z",  # any separator: datetime.fromisoformat alone took these
        "2026-11-27T12:00:00 +00:00",  # a space before the offset
        "2026-11-27T12Z",  # hours alone
        "2026-W48-5T12:00:00Z",  # a week date
        "2026-11-27T12:00:00.Z",  # a fraction without digits
        "2026-11-27T12:00:00+00:00:30",  # an offset with seconds
        "2026-11-27T1200Z",  # an extended date with a basic time
    ],
)
def test_other_spellings_python_reads_are_not_the_contract(timestamp: str) -> None:
    datetime.fromisoformat(timestamp)  # Python 3.11+ reads it ...
    with pytest.raises(InvalidReadingError, match="is not in an accepted ISO-8601 form") as error:
        parse_reading(_raw(timestamp=timestamp), now=NOW)
    assert error.value.reason is Reason.WRONG_TYPE  # ... the contract does not


def test_a_unit_may_hold_any_printable_character_but_no_lone_surrogate() -> None:
    assert parse_reading(_raw(unit="µg/m³ 🌡"), now=NOW).unit == "µg/m³ 🌡"
    for unit in ("\ud800", "C\udfff"):
        with pytest.raises(InvalidReadingError, match="unit must be a string of") as error:
            parse_reading(json.dumps({**json.loads(_raw()), "unit": unit}).encode(), now=NOW)
        assert error.value.reason is Reason.WRONG_TYPE
