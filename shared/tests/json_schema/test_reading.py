"""The published reading schema: fresh, generated from the parser's constants, and readable by draft-07 tools."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from jsonschema import Draft7Validator, Draft202012Validator

from shared.json_schema import reading
from shared.json_schema.reading import SCHEMA_PATH, UNEXPRESSED, reading_schema, rendered
from shared.readings.schema import FIELDS, PHYSICAL_RANGES

SCHEMA = reading_schema()
# Where a keyword's value is a schema, a list of schemas, or a map of names to schemas.
SCHEMA_VALUED = {"not", "if", "then", "else", "items", "additionalProperties"}
SCHEMA_LISTS = {"allOf", "anyOf", "oneOf"}
SCHEMA_MAPS = {"properties"}


def _subschemas(schema: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield schema
    for keyword, value in schema.items():
        if keyword in SCHEMA_VALUED and isinstance(value, dict):
            yield from _subschemas(value)
        elif keyword in SCHEMA_LISTS:
            for item in value:
                yield from _subschemas(item)
        elif keyword in SCHEMA_MAPS:
            for item in value.values():
                yield from _subschemas(item)


def test_the_committed_schema_is_what_make_schema_writes() -> None:
    assert SCHEMA_PATH.read_text(encoding="utf-8") == rendered(), "docs/reading.schema.json is stale: run make schema"


def test_it_is_a_valid_schema_of_both_drafts() -> None:
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(SCHEMA)
    Draft7Validator.check_schema(SCHEMA)


def test_it_uses_only_keywords_draft_07_knows() -> None:
    draft_07 = set(Draft7Validator.META_SCHEMA["properties"])
    used = {keyword for schema in _subschemas(SCHEMA) for keyword in schema}
    assert used - draft_07 == set()
    assert {"$ref", "$defs", "prefixItems", "dependentRequired"}.isdisjoint(used)


def test_every_pattern_is_anchored_and_free_of_classes_the_dialects_read_differently() -> None:
    patterns = [schema["pattern"] for schema in _subschemas(SCHEMA) if "pattern" in schema]
    assert len(patterns) == len(FIELDS) - 2  # every text field and the timestamp; not schema_version nor value
    for pattern in patterns:
        assert pattern.startswith("^"), pattern
        assert pattern.endswith("$"), pattern
        assert re.findall(r"\\[^u]", pattern) == [], pattern  # only \uXXXX escapes: no \d, \w, \s, \b


def test_the_value_ranges_come_from_the_parsers_constants(monkeypatch: pytest.MonkeyPatch) -> None:
    narrowed = {**PHYSICAL_RANGES, "humidity": (Decimal(0), Decimal(90))}
    monkeypatch.setattr(reading, "PHYSICAL_RANGES", narrowed)
    ranges = {
        branch["if"]["properties"]["sensor_type"]["const"]: branch["then"]["properties"]["value"]
        for branch in reading_schema()["allOf"]
        if "then" in branch
    }
    assert ranges["humidity"] == {"type": "number", "minimum": 0, "maximum": 90}
    assert ranges["temperature"] == {"type": "number", "minimum": -273.15, "maximum": 2000}


def test_a_limit_without_an_exact_json_number_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reading, "PHYSICAL_RANGES", {"humidity": (Decimal("0.10000000000000000001"), Decimal(1))})
    with pytest.raises(ValueError, match="no exact short form"):
        reading_schema()


def test_every_rule_it_cannot_state_is_in_its_descriptions() -> None:
    text = json.dumps(SCHEMA)
    for rule in UNEXPRESSED:
        assert json.dumps(f"[{rule.reason}] {rule.rule}")[1:-1] in text, rule
