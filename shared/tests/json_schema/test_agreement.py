"""The published schema and the processor's parser agree, both ways, over generated documents.

- Every document the schema accepts is stored, unless it breaks a rule the schema lists as one it cannot state,
  and then it is quarantined for exactly that rule's reason.
- Every document the processor stores is accepted by the schema, unless the stored value is a rounded one.

Documents come from the schema itself (shared/testing/schema_strategies.py), from a valid reading with fields
replaced by arbitrary JSON, and from the ISO-8601 forms around the timestamp pattern; the hostile corpus is judged in
services/iot_processor/tests/runtime/test_hostile_input.py. The oracle: shared/testing/reading_agreement.py.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from shared.json_schema.reading import SCHEMA_PATH
from shared.readings.schema import FIELDS, ISO_TIMESTAMP
from shared.testing.json_schema import exact_json, exact_json_text
from shared.testing.properties import property_settings
from shared.testing.reading_agreement import SCHEMA_VALIDATOR, assert_schema_and_parser_agree
from shared.testing.schema_strategies import documents

SCHEMA = exact_json(SCHEMA_PATH.read_text(encoding="utf-8"))
VALID = {"sensor_id": "s-1", "sensor_type": "temperature", "value": 21.5, "timestamp": "2026-11-27T12:00:00Z"}


@property_settings(300)
@given(documents(SCHEMA))
def test_every_document_the_schema_generates_is_stored_or_breaks_a_rule_it_cannot_state(document: Any) -> None:
    data = exact_json_text(document).encode()
    assert SCHEMA_VALIDATOR.is_valid(exact_json(data)), data
    assert_schema_and_parser_agree(data)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=6,
)
NAMES = st.sampled_from(sorted(FIELDS)) | st.text(max_size=8)


@property_settings(500)
@given(st.dictionaries(NAMES, JSON, max_size=3), st.lists(st.sampled_from(sorted(VALID)), max_size=2))
def test_a_valid_reading_with_arbitrary_json_in_its_fields_is_judged_alike(
    replaced: dict[str, Any], removed: list[str]
) -> None:
    document = {name: value for name, value in VALID.items() if name not in removed} | replaced
    assert_schema_and_parser_agree(json.dumps(document).encode())


@property_settings(300)
@given(JSON)
def test_arbitrary_json_is_judged_alike(document: Any) -> None:
    assert_schema_and_parser_agree(json.dumps(document).encode())


@st.composite
def iso_spellings(draw: st.DrawFn) -> str:
    """A real instant spelled in the forms of the contract and in those Python's fromisoformat also reads."""
    moment = draw(st.datetimes(min_value=datetime(2000, 1, 2), max_value=datetime(9999, 12, 30)))
    date = moment.strftime(draw(st.sampled_from(["%Y-%m-%d", "%Y%m%d", "%G-W%V-%u"])))
    separator = draw(st.sampled_from(["T", "t", " ", "X", "_"]))
    time = moment.strftime(draw(st.sampled_from(["%H:%M:%S", "%H:%M", "%H%M%S", "%H%M", "%H"])))
    fraction = draw(st.sampled_from(["", ".5", ",25", ".123456789", "."]))
    offset = draw(st.sampled_from(["Z", "z", "+01:00", "-0530", "+01", "+01:00:30", " +01:00", "", "\n"]))
    return f"{date}{separator}{time}{fraction}{offset}"


TEXT_NEAR_THE_RULES = st.one_of(
    st.from_regex(ISO_TIMESTAMP, fullmatch=True),
    iso_spellings(),
    st.from_regex(r"[a-z0-9_A-Z.:@/#\n -]{0,3}", fullmatch=True),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=4),
)


@property_settings(500)
@given(st.sampled_from(["timestamp", "sensor_type", "sensor_id", "unit", "site"]), TEXT_NEAR_THE_RULES)
def test_text_around_every_pattern_is_judged_alike(field: str, text: str) -> None:
    assert_schema_and_parser_agree(json.dumps({**VALID, field: text}).encode())


@property_settings(200)
@given(
    st.sampled_from(["temperature", "humidity", "pressure", "vibration", "co2"]),
    st.decimals(allow_nan=False, allow_infinity=False) | st.sampled_from(["-273.15", "2000", "100.0", "-1E+15"]),
)
def test_values_around_every_range_are_judged_alike(sensor_type: str, value: Decimal | str) -> None:
    data = json.dumps({**VALID, "sensor_type": sensor_type, "value": 0}).encode()
    assert_schema_and_parser_agree(data.replace(b'"value": 0', f'"value": {value}'.encode()))
