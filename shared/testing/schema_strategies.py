"""Documents generated from a JSON Schema itself, for the keywords the published reading schema uses.

hypothesis-jsonschema would be the usual tool, but its last release (0.23.1) relies on Hypothesis internals that
the pinned Hypothesis no longer has. This reads the schema the same way: each property's ``type``, ``const``,
``pattern``, ``minLength``/``maxLength`` and ``minimum``/``maximum``; ``required`` and the optional rest; and the
``allOf`` of ``if``/``then``/``else``, whose branches that apply to a drawn document narrow the properties drawn
after them. Values named in the conditions (the sensor types with a range) are drawn as often as patterned ones.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st
from jsonschema import Draft202012Validator

_Document = dict[str, Any]


def documents(schema: Mapping[str, Any]) -> st.SearchStrategy[_Document]:
    """Objects ``schema`` accepts; the properties its conditions constrain are drawn last."""
    properties: Mapping[str, Any] = schema["properties"]
    conditions = schema.get("allOf", [])
    constrained = {name for branch in conditions for name in _branch_properties(branch)}
    named_values = _condition_values(conditions)
    tests = [Draft202012Validator(branch["if"]).is_valid for branch in conditions]
    built: dict[str, st.SearchStrategy[Any]] = {}  # a strategy per distinct property schema: building one is costly

    def strategy(subschema: Mapping[str, Any], named: list[Any]) -> st.SearchStrategy[Any]:
        key = json.dumps([subschema, named], sort_keys=True, default=str)
        if key not in built:
            built[key] = _value(subschema, named)
        return built[key]

    @st.composite
    def draw_document(draw: st.DrawFn) -> _Document:
        document: _Document = {}
        for name, subschema in properties.items():
            if name in constrained:
                continue
            if name in schema["required"] or draw(st.booleans()):
                document[name] = draw(strategy(subschema, named_values.get(name, [])))
        for name in sorted(constrained):
            applying = [
                branch.get("then" if holds(document) else "else", {}).get("properties", {}).get(name, {})
                for branch, holds in zip(conditions, tests, strict=True)
            ]
            document[name] = draw(strategy(_merged(properties[name], *applying), []))
        return document

    return draw_document()


def _value(schema: Mapping[str, Any], named: list[Any]) -> st.SearchStrategy[Any]:
    if "const" in schema:
        return st.just(schema["const"])
    types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    drawn = st.one_of([_of_type(kind, schema) for kind in types])
    return st.sampled_from(named) | drawn if named else drawn


def _of_type(kind: str, schema: Mapping[str, Any]) -> st.SearchStrategy[Any]:
    if kind == "null":
        return st.none()
    if kind == "string":
        body = schema["pattern"].removeprefix("^").removesuffix("$")  # the generator's patterns are anchored
        length = range(schema.get("minLength", 0), schema.get("maxLength", 10**6) + 1)
        return st.from_regex(body, fullmatch=True).filter(lambda text: len(text) in length)
    low, high = (None if bound is None else Decimal(bound) for bound in (schema.get("minimum"), schema.get("maximum")))
    integers = st.integers(
        min_value=None if low is None else math.ceil(low), max_value=None if high is None else math.floor(high)
    )
    if kind == "integer":
        return integers
    assert kind == "number", kind
    return integers | st.decimals(min_value=low, max_value=high, allow_nan=False, allow_infinity=False)


def _branch_properties(branch: Mapping[str, Any]) -> dict[str, Any]:
    """The property schemas a conditional branch sets, in either case."""
    return {**branch.get("then", {}).get("properties", {}), **branch.get("else", {}).get("properties", {})}


def _condition_values(conditions: list[Mapping[str, Any]]) -> dict[str, list[Any]]:
    values: dict[str, list[Any]] = {}
    for branch in conditions:
        for name, condition in branch["if"]["properties"].items():
            named = values.setdefault(name, [])
            named.extend(value for value in condition.get("enum", [condition.get("const")]) if value not in named)
    return values


def _merged(schema: Mapping[str, Any], *narrowing: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(schema)
    for extra in narrowing:
        if "minimum" in extra:
            merged["minimum"] = max(extra["minimum"], merged.get("minimum", extra["minimum"]))
        if "maximum" in extra:
            merged["maximum"] = min(extra["maximum"], merged.get("maximum", extra["maximum"]))
    return merged
