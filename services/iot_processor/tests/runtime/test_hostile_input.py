"""Any bytes a device can send end in a storable item or a quarantine reason, with bounded work.

The corpus below names one example per class of hostile input; the properties generate the rest. Each judged
record goes through what the processor does with it: parse, judge the anomaly, build the table item.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Context, Decimal

import pytest
from boto3.dynamodb.types import DYNAMODB_CONTEXT
from hypothesis import given
from hypothesis import strategies as st

from services.iot_processor.runtime.table import StoredReading, WireItem, item_for
from services.iot_processor.tests.hostile_corpus import HOSTILE, VALID, record
from shared.readings.anomalies import DEFAULT_ANOMALY_BOUNDS, severity_of
from shared.readings.schema import (
    DETAIL_LIMIT,
    EARLIEST_TIMESTAMP,
    LARGEST_STORED_MAGNITUDE,
    MAX_CLOCK_SKEW,
    MAX_RECORD_BYTES,
    SMALLEST_STORED_MAGNITUDE,
    InvalidReadingError,
    Reason,
    parse_reading,
)
from shared.testing.properties import property_settings
from shared.testing.reading_agreement import assert_schema_and_parser_agree

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
PROPERTIES = property_settings(150)
PARSER_REASONS = set(Reason) - {Reason.REJECTED_BY_STORE, Reason.UNPROCESSABLE}
# The longest number text a stored value can have: 38 digits, sign, point, and an exponent of up to 3 digits.
LONGEST_STORED_NUMBER = 38 + 1 + 1 + len("E-130")


def judge(data: bytes) -> WireItem | InvalidReadingError:
    """What the processor makes of one record's bytes: a table item, or the reason it is quarantined."""
    try:
        reading = parse_reading(data, now=NOW)
    except InvalidReadingError as problem:
        return problem
    stored = StoredReading(reading=reading, severity=severity_of(reading, DEFAULT_ANOMALY_BOUNDS))
    return item_for(stored, ttl_days=7, anomaly_ttl_days=7, index_shards=4)


def assert_settled(outcome: WireItem | InvalidReadingError) -> None:
    """An item DynamoDB accepts, or a parser reason with a short detail that can be written anywhere."""
    if isinstance(outcome, InvalidReadingError):
        assert outcome.reason in PARSER_REASONS, outcome.reason
        assert 0 < len(outcome.detail) <= 3 * DETAIL_LIMIT
        outcome.detail.encode()
        return
    for attribute in outcome.values():
        if "S" in attribute:
            attribute["S"].encode()
        if "N" in attribute:
            number = Decimal(attribute["N"])
            assert len(attribute["N"]) <= LONGEST_STORED_NUMBER
            assert DYNAMODB_CONTEXT.create_decimal(number) == number  # traps Inexact, Rounded, Overflow, Clamped
            assert number.is_zero() or SMALLEST_STORED_MAGNITUDE <= abs(number) <= LARGEST_STORED_MAGNITUDE


def reason_of(data: bytes) -> Reason:
    outcome = judge(data)
    assert isinstance(outcome, InvalidReadingError), f"accepted: {outcome}"
    return outcome.reason


def stored_value(data: bytes) -> Decimal:
    outcome = judge(data)
    assert not isinstance(outcome, InvalidReadingError), outcome
    return Decimal(outcome["value"]["N"])


def epoch_ms(moment: datetime) -> str:
    return str((moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1))


@pytest.mark.parametrize(("data", "reason"), HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_record_is_quarantined_with_its_reason(data: bytes, reason: Reason) -> None:
    outcome = judge(data)
    assert isinstance(outcome, InvalidReadingError), f"accepted: {outcome}"
    assert outcome.reason is reason, outcome.detail
    assert_settled(outcome)


def test_a_record_at_the_size_limit_is_judged_on_its_content() -> None:
    data = record().ljust(MAX_RECORD_BYTES)  # JSON allows trailing white space
    assert len(data) == MAX_RECORD_BYTES
    assert stored_value(data) == Decimal("21.5")


ROUND_TO_38 = Context(prec=38, rounding=ROUND_HALF_EVEN)


@pytest.mark.parametrize(
    "text",
    [
        "1.0000000000000000000000000000000000000",  # 38 digits: kept as sent
        "1.23456789012345678901234567890123456789",  # 39 digits: rounded
        "0." + "3" * 60,
        "-273.14999999999999999999999999999999999999999",
        "1.00000000000000000000000000000000000005",  # half-even: rounds down to the even digit
        "1.00000000000000000000000000000000000015",  # half-even: rounds up to the even digit
    ],
)
def test_values_more_precise_than_dynamodb_are_rounded_half_even_to_38_digits(text: str) -> None:
    stored = stored_value(record(value=text))
    assert stored == ROUND_TO_38.plus(Decimal(text))
    assert len(stored.as_tuple().digits) <= 38


def test_38_digits_are_stored_exactly_and_39_are_not() -> None:
    exact = "12.345678901234567890123456789012345678"
    assert str(stored_value(record(value=exact))) == exact
    assert str(stored_value(record(value=exact + "9"))) == "12.345678901234567890123456789012345679"


def test_rounding_happens_before_the_physical_range_check() -> None:
    assert stored_value(record(value="2000." + "0" * 40 + "1")) == 2000
    assert reason_of(record(value="2000." + "0" * 30 + "1")) is Reason.OUT_OF_RANGE


@pytest.mark.parametrize("text", ["1e-130", "-1e-130", "1.5e-130"])
def test_dynamodb_smallest_magnitudes_are_stored(text: str) -> None:
    assert stored_value(record(value=text)) == Decimal(text)


@pytest.mark.parametrize("text", ["0", "-0", "0.000", "0e-999999999", "-0e+999999999"])
def test_every_zero_is_stored_as_zero(text: str) -> None:
    outcome = judge(record(value=text))
    assert not isinstance(outcome, InvalidReadingError)
    assert outcome["value"] == {"N": "0"}


def test_equal_values_written_differently_get_one_content_id() -> None:
    ids = {parse_reading(record(value=text), now=NOW).reading_id for text in ("21.5", "21.50", "2.15e1", "215e-1")}
    assert len(ids) == 1
    assert parse_reading(record(value="21.6"), now=NOW).reading_id not in ids


@pytest.mark.parametrize(
    ("offset", "reason"),
    [(timedelta(0), None), (-timedelta(milliseconds=1), Reason.ANCIENT_TIMESTAMP)],
)
def test_epoch_milliseconds_at_the_earliest_instant(offset: timedelta, reason: Reason | None) -> None:
    outcome = judge(record(timestamp=epoch_ms(EARLIEST_TIMESTAMP + offset)))
    assert (outcome.reason if isinstance(outcome, InvalidReadingError) else None) is reason


@pytest.mark.parametrize(
    ("offset", "reason"),
    [(timedelta(0), None), (timedelta(milliseconds=1), Reason.FUTURE_TIMESTAMP)],
)
def test_epoch_milliseconds_at_the_latest_instant(offset: timedelta, reason: Reason | None) -> None:
    outcome = judge(record(timestamp=epoch_ms(NOW + MAX_CLOCK_SKEW + offset)))
    assert (outcome.reason if isinstance(outcome, InvalidReadingError) else None) is reason


def test_printable_unicode_units_are_kept() -> None:
    outcome = judge(record(unit='"\\u00b0C"'))
    assert not isinstance(outcome, InvalidReadingError)
    assert outcome["unit"] == {"S": "°C"}
    thermometer = judge(record(unit='"\\ud83c\\udf21"'))  # a valid surrogate pair is one character
    assert not isinstance(thermometer, InvalidReadingError)
    assert thermometer["unit"] == {"S": "\U0001f321"}


def test_details_quote_at_most_a_slice_of_the_offending_value() -> None:
    outcome = judge(record(sensor_id='"' + "x" * 3000 + '"'))
    assert isinstance(outcome, InvalidReadingError)
    assert "xxx" in outcome.detail
    assert len(outcome.detail) < 3 * DETAIL_LIMIT


# --- properties -------------------------------------------------------------------------------------------------

NUMBER_TEXT = st.from_regex(r"-?(0|[1-9][0-9]{0,80})(\.[0-9]{1,80})?([eE][+-]?[0-9]{1,12})?", fullmatch=True)
ANY_CHARACTER = st.characters(min_codepoint=0, max_codepoint=0x10FFFF, categories=None)  # lone surrogates too
STRING_TEXT = st.text(ANY_CHARACTER, max_size=40).map(json.dumps)
SCALAR_TEXT = st.one_of(NUMBER_TEXT, STRING_TEXT, st.sampled_from(["true", "false", "null", "NaN", "-Infinity"]))
FIELD_NAMES = st.sampled_from([*VALID, "unit", "site", "device", "reading_id", "schema_version", "synthetic_run", "x"])


def _array(items: list[str]) -> str:
    return "[" + ",".join(items) + "]"


def _object(members: list[tuple[str, str]]) -> str:
    return "{" + ",".join(f"{json.dumps(name)}:{value}" for name, value in members) + "}"


JSON_TEXT = st.recursive(
    SCALAR_TEXT,
    lambda children: st.one_of(
        st.lists(children, max_size=4).map(_array),
        st.lists(st.tuples(st.one_of(FIELD_NAMES, st.text(ANY_CHARACTER, max_size=8)), children), max_size=5).map(
            _object
        ),
    ),
    max_leaves=8,
)
DEEP_TEXT = st.integers(min_value=1, max_value=MAX_RECORD_BYTES // 2).map(lambda depth: "[" * depth + "]" * depth)


@PROPERTIES
@given(st.binary(max_size=MAX_RECORD_BYTES + 8))
def test_any_bytes_are_settled(data: bytes) -> None:
    assert_settled(judge(data))


@PROPERTIES
@given(st.one_of(JSON_TEXT, DEEP_TEXT))
def test_any_json_document_is_settled(text: str) -> None:
    assert_settled(judge(text.encode()))


@PROPERTIES
@given(st.lists(st.tuples(FIELD_NAMES, st.one_of(JSON_TEXT, DEEP_TEXT)), min_size=1, max_size=5))
def test_any_object_of_reading_fields_is_settled(members: list[tuple[str, str]]) -> None:
    assert_settled(judge(_object(members).encode()))


@PROPERTIES
@given(FIELD_NAMES, st.one_of(JSON_TEXT, DEEP_TEXT))
def test_a_valid_reading_with_any_one_field_replaced_is_settled(name: str, text: str) -> None:
    outcome = judge(record(**{name: text}))
    assert_settled(outcome)
    if name == "x":  # not a reading field: never accepted, whatever it holds
        assert isinstance(outcome, InvalidReadingError)


@PROPERTIES
@given(NUMBER_TEXT)
def test_any_number_as_a_value_is_stored_exactly_as_rounded_or_quarantined(text: str) -> None:
    outcome = judge(record(sensor_type='"counter"', value=text))
    assert_settled(outcome)
    if not isinstance(outcome, InvalidReadingError):
        assert Decimal(outcome["value"]["N"]) == (ROUND_TO_38.plus(Decimal(text)) if Decimal(text) else 0)


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_the_published_schema_judges_every_hostile_record_as_the_processor_does(name: str) -> None:
    """Refused by both, or by a rule the schema lists as one it cannot state (docs/reading.schema.json)."""
    data, _ = HOSTILE[name]
    assert_schema_and_parser_agree(data)
