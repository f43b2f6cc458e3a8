"""The oracle of the agreement tests: does the processor judge a record as the published schema does?

The schema is judged with spec_validator (ECMA-262 patterns, exact decimals); the processor with parse_reading at
AGREEMENT_CLOCK, set late (9999) so that the 15-minute rule, which no schema can state, hides no disagreement.
A disagreement is allowed only where a rule the schema lists as one it cannot state explains it, judged here apart
from the parser.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from shared.json_schema.reading import SCHEMA_PATH
from shared.readings.schema import (
    EARLIEST_TIMESTAMP,
    MAX_CLOCK_SKEW,
    MAX_RECORD_BYTES,
    SMALLEST_STORED_MAGNITUDE,
    InvalidReadingError,
    Reason,
    parse_reading,
    stored_number,
)
from shared.testing.json_schema import exact_json, spec_validator

AGREEMENT_CLOCK = datetime(9999, 12, 31, 23, 0, tzinfo=UTC)
SCHEMA_VALIDATOR = spec_validator(SCHEMA_PATH.read_text(encoding="utf-8"))


def assert_schema_and_parser_agree(data: bytes) -> None:
    """Accepted by the schema and stored, or refused by both, or one of the allowed disagreements."""
    try:
        document = exact_json(data.decode("utf-8"))  # strict: json.loads of bytes would skip a byte-order mark
    except (ValueError, ArithmeticError, RecursionError):
        # Not UTF-8 or not JSON, a number no Decimal holds, or nesting too deep for Python's decoder: outside what a
        # validator here can read, and the parser refuses every one (test_schema.py, the hostile corpus).
        return
    accepted = SCHEMA_VALIDATOR.is_valid(document)
    try:
        parse_reading(data, now=AGREEMENT_CLOCK)
    except InvalidReadingError as refusal:
        refused = refusal
    else:
        assert accepted or rounded_into_range(document), (list(SCHEMA_VALIDATOR.iter_errors(document)), data)
        return
    assert not accepted or refused.reason in unstated_rules_broken(data, document), (refused, data)


def unstated_rules_broken(data: bytes, document: dict[str, Any]) -> set[Reason]:
    """The reasons of the rules the schema cannot state that ``data`` breaks."""
    broken = set()
    if len(data) > MAX_RECORD_BYTES:
        broken.add(Reason.OVERSIZE)
    if _has_duplicate_fields(data):
        broken.add(Reason.DUPLICATE_FIELD)
    if any(_has_lone_surrogate(text) for text in _strings(document)):
        broken.add(Reason.WRONG_TYPE)
    value = document.get("value")
    if isinstance(value, int | Decimal) and value and abs(Decimal(value)) < SMALLEST_STORED_MAGNITUDE:
        broken.add(Reason.UNSTORABLE_NUMBER)
    timestamp = document.get("timestamp")
    if isinstance(timestamp, str):
        try:
            moment = datetime.fromisoformat(timestamp)
        except ValueError:
            broken.add(Reason.WRONG_TYPE)  # the date does not exist
        else:
            broken |= _outside_the_window(moment)
    elif isinstance(timestamp, int | Decimal):
        latest = (AGREEMENT_CLOCK + MAX_CLOCK_SKEW).timestamp() * 1000
        broken |= {Reason.FUTURE_TIMESTAMP} if timestamp > latest else set()
    return broken


def rounded_into_range(document: Any) -> bool:
    """The value has more digits than the table keeps: the parser judged its rounded form, the schema the exact one."""
    value = document.get("value") if isinstance(document, dict) else None
    return isinstance(value, Decimal) and stored_number(value) != value


def _outside_the_window(moment: datetime) -> set[Reason]:
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:  # the UTC instant is before year 1 or after 9999
        return {Reason.ANCIENT_TIMESTAMP if moment.year == 1 else Reason.FUTURE_TIMESTAMP}
    if utc < EARLIEST_TIMESTAMP:
        return {Reason.ANCIENT_TIMESTAMP}
    return {Reason.FUTURE_TIMESTAMP} if utc > AGREEMENT_CLOCK + MAX_CLOCK_SKEW else set()


def _has_duplicate_fields(data: bytes) -> bool:
    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        if len({name for name, _ in items}) != len(items):
            raise _DuplicateFieldError
        return dict(items)

    try:
        json.loads(data, object_pairs_hook=pairs)
    except _DuplicateFieldError:
        return True
    return False


class _DuplicateFieldError(Exception):
    pass


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _has_lone_surrogate(text: str) -> bool:
    return any("\ud800" <= character <= "\udfff" for character in text)
