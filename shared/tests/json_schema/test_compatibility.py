"""The compatibility policy, rule by rule: each change on the side that breaks producers and on the side that does
not, on a small schema shaped like the published one (and on the published one where the rule concerns it)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from shared.json_schema.compatibility import NO_VERSION, breaking_changes
from shared.json_schema.reading import SCHEMA_PATH

PUBLISHED = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def schema(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "title": "v1",
        "type": "object",
        "required": ["sensor_id", "value"],
        "additionalProperties": False,
        "properties": {
            "schema_version": {"const": 1},
            "sensor_id": {"type": "string", "minLength": 1, "maxLength": 128, "pattern": "^[A-Za-z0-9._-]*$"},
            "sensor_type": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
            "value": {"type": "number"},
            "unit": {"type": ["string", "null"], "maxLength": 16},
        },
        "allOf": [
            {
                "if": {"properties": {"sensor_type": {"const": "humidity"}}, "required": ["sensor_type"]},
                "then": {"properties": {"value": {"minimum": 0, "maximum": 100}}},
            }
        ],
    }
    return base | changes


def with_property(name: str, **rule: Any) -> dict[str, Any]:
    changed = schema()
    changed["properties"] = {**changed["properties"], name: rule}
    return changed


def problems(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return [str(change) for change in breaking_changes(old, new)]


def test_the_same_schema_and_new_words_break_nothing() -> None:
    assert problems(schema(), schema()) == []
    assert problems(schema(), schema(title="v1, described", description="every rule")) == []
    assert breaking_changes(PUBLISHED, copy.deepcopy(PUBLISHED)) == []


def test_a_new_required_field_breaks_and_a_field_made_optional_does_not() -> None:
    assert problems(schema(), schema(required=["sensor_id", "value", "unit"])) == [
        "version 1: new required field unit",
        f"version {NO_VERSION}: new required field unit",
    ]
    assert problems(schema(), schema(required=["sensor_id"])) == []


@pytest.mark.parametrize(
    ("name", "narrowed", "widened", "problem"),
    [
        ("value", {"type": "integer"}, {"type": ["number", "string"]}, "type narrowed: number no longer accepted"),
        ("unit", {"type": "string", "maxLength": 16}, {"type": ["string", "null", "number"]}, "type narrowed: null"),
        ("unit", {"type": ["string", "null"], "maxLength": 8}, {"type": ["string", "null"]}, "maxLength lowered"),
        ("sensor_id", {"type": "string", "minLength": 2, "maxLength": 128, "pattern": "^[A-Za-z0-9._-]*$"},
         {"type": "string"}, "minLength raised from 1 to 2"),
    ],
)  # fmt: skip
def test_a_narrowed_type_or_length_breaks_and_a_widened_one_does_not(
    name: str, narrowed: dict[str, Any], widened: dict[str, Any], problem: str
) -> None:
    found = problems(schema(), with_property(name, **narrowed))
    assert found
    assert all(problem in line and f", {name}: " in line for line in found), found
    assert problems(schema(), with_property(name, **widened)) == []


def test_a_narrowed_range_breaks_and_a_widened_one_does_not() -> None:
    narrowed, widened = copy.deepcopy(PUBLISHED), copy.deepcopy(PUBLISHED)
    humidity = next(
        entry for entry in narrowed["allOf"] if entry["if"]["properties"]["sensor_type"].get("const") == "humidity"
    )
    humidity["then"]["properties"]["value"]["maximum"] = 90
    assert problems(PUBLISHED, narrowed) == [
        'version 1, when sensor_type is "humidity", value: maximum lowered from 100 to 90',
        f'version {NO_VERSION}, when sensor_type is "humidity", value: maximum lowered from 100 to 90',
    ]
    widened["allOf"][0]["then"]["properties"]["value"]["minimum"] = -300
    assert problems(PUBLISHED, widened) == []


def test_a_new_condition_breaks_and_a_dropped_one_does_not() -> None:
    stricter = schema(allOf=[*schema()["allOf"], {"if": {"properties": {"sensor_type": {"const": "co2"}}},
                                                  "then": {"properties": {"value": {"minimum": 0}}}}])  # fmt: skip
    assert problems(schema(), stricter)[0] == 'version 1, when sensor_type is "co2": a new condition'
    assert problems(schema(), schema(allOf=[])) == []


def test_a_removed_optional_field_breaks_only_while_unknown_fields_are_refused() -> None:
    removed = schema()
    del removed["properties"]["unit"]
    assert problems(schema(), removed)[0] == "version 1: field unit removed while unknown fields are refused"
    open_schema = schema(additionalProperties=True)
    removed_from_open = schema(additionalProperties=True)
    del removed_from_open["properties"]["unit"]
    assert problems(open_schema, removed_from_open) == []


def test_refusing_unknown_fields_breaks_and_a_field_once_unknown_may_not_be_constrained() -> None:
    open_schema = schema(additionalProperties=True)
    assert problems(open_schema, schema())[0] == "version 1, unknown fields: refuses everything"
    constrained = schema(additionalProperties=True)
    constrained["properties"] = {**constrained["properties"], "colour": {"type": "string"}}
    assert problems(open_schema, constrained)[0] == (
        "version 1, colour (an unknown field before): type narrowed: any type no longer accepted"
    )
    assert problems(schema(), with_property("colour", type="string")) == []  # unknown fields were refused anyway


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ("^[A-Za-z0-9._-]*$", "^[A-Za-z0-9_-]*$", 'pattern tightened: "." refused'),
        ("^[A-Za-z0-9._-]*$", "^[a-z0-9._-]*$", 'pattern tightened: "A", "B", "C", "D", "E" ... refused'),
        ("^[A-Za-z0-9._-]*$", "^[A-Za-z0-9._-]+$", "which this check cannot prove wider"),
    ],
)
def test_a_tightened_pattern_breaks(old: str, new: str, problem: str) -> None:
    rule = {"type": "string", "minLength": 1, "maxLength": 128}
    found = problems(with_property("sensor_id", **rule, pattern=old), with_property("sensor_id", **rule, pattern=new))
    assert found
    assert all(line.startswith("version ") and ", sensor_id: " in line and problem in line for line in found), found


@pytest.mark.parametrize("new", ["^[A-Za-z0-9._:#-]*$", None])
def test_a_widened_or_removed_pattern_does_not_break(new: str | None) -> None:
    rule = {"type": "string", "minLength": 1, "maxLength": 128} | ({"pattern": new} if new else {})
    assert problems(schema(), with_property("sensor_id", **rule)) == []


def test_an_unmodelled_keyword_that_changes_counts_as_a_break() -> None:
    assert problems(with_property("unit", format="uri"), with_property("unit", format="email"))[0] == (
        "version 1, unit: format changed, which this check cannot prove wider"
    )


def versioned(v1: dict[str, Any], v2: dict[str, Any]) -> dict[str, Any]:
    return {"$schema": v1.get("$schema"), "title": "versions 1 and 2", "anyOf": [v1, v2]}


def version_2(base: dict[str, Any]) -> dict[str, Any]:
    """A breaking change made properly: version 2 requires unit and narrows humidity; version 1 stays as it was."""
    v2 = copy.deepcopy(base)
    v2["required"] = [*base["required"], "schema_version", "unit"]
    v2["properties"]["schema_version"] = {"const": 2}
    humidity = next(e for e in v2["allOf"] if e["if"]["properties"]["sensor_type"].get("const") == "humidity")
    humidity["then"]["properties"]["value"]["maximum"] = 90
    return v2


@pytest.mark.parametrize("base", [schema(), PUBLISHED], ids=["small", "published"])
def test_a_versioned_change_that_keeps_the_old_version_passes(base: dict[str, Any]) -> None:
    assert problems(base, versioned(base, version_2(base))) == []


def test_a_versioned_change_that_drops_or_narrows_the_old_version_breaks() -> None:
    v2 = version_2(schema())
    assert problems(schema(), {"anyOf": [v2]}) == [
        "version 1: no longer accepted",
        f"version {NO_VERSION}: no longer accepted",
    ]
    narrowed_v1 = schema(required=["sensor_id", "value", "unit"])
    assert problems(schema(), versioned(narrowed_v1, v2)) == [
        "version 1: new required field unit",
        f"version {NO_VERSION}: new required field unit",
    ]
