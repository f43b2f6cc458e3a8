"""Whether a new reading schema still accepts every reading an old one accepted: the contract's compatibility policy.

A change breaks producers already in the field when a reading valid under the old schema is refused under the new:
a new required field, a narrowed type or range, a removed optional field while unknown fields are refused, a
tightened pattern, a new condition. A schema may instead add a schema_version: its root is then an ``anyOf`` of one
branch per version, each naming its versions in ``schema_version`` (``const`` or ``enum``; a branch where it is
optional also takes readings without it). Each version the old schema accepted must stay accepted, by a branch no
narrower than the old one; a new version's branch may be anything.

Pure: two schemas in, the breaks out. What it cannot prove wider (a changed keyword it does not model, a changed
pattern other than a character class) counts as a break: a reviewer can still bump the version.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

Schema = Mapping[str, Any]
NO_VERSION = "no schema_version"  # readings that do not state their version
ANNOTATIONS = frozenset(
    {"$schema", "$id", "$comment", "title", "description", "examples", "default", "deprecated", "readOnly", "writeOnly"}
)
LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")
_OBJECT_KEYWORDS = {"required", "properties", "additionalProperties"}
_CONDITION_KEYWORDS = {"allOf", "if", "then", "else"}
_MODELLED = {"type", "const", "enum", "pattern", *LOWER_BOUNDS, *UPPER_BOUNDS, *_OBJECT_KEYWORDS, *_CONDITION_KEYWORDS}
_CHARACTER_CLASS = re.compile(r"\^(\[(?:[^\]\\]|\\.)*\])\*\$")


@dataclass(frozen=True)
class Break:
    """One way a reading valid under the old schema may be refused under the new one."""

    where: str
    problem: str

    def __str__(self) -> str:
        return f"{self.where}: {self.problem}"


def breaking_changes(old: Schema, new: Schema) -> list[Break]:
    """Every break of the compatibility policy from ``old`` to ``new``; empty when ``new`` accepts all ``old`` did."""
    new_branches = _branches_by_version(new)
    breaks = []
    for version, old_branch in _branches_by_version(old).items():
        where = f"version {version}"
        if version not in new_branches:
            breaks.append(Break(where, "no longer accepted"))
        else:
            breaks.extend(_narrowings(old_branch, new_branches[version], where))
    return breaks


def _branches_by_version(schema: Schema) -> dict[int | str, Schema]:
    common = {keyword: value for keyword, value in schema.items() if keyword != "anyOf"}
    branches = [{**common, **branch} for branch in schema["anyOf"]] if "anyOf" in schema else [schema]
    by_version: dict[int | str, Schema] = {}
    for branch in branches:
        stated = branch.get("properties", {}).get("schema_version", {})
        versions = stated["enum"] if "enum" in stated else [stated["const"]] if "const" in stated else []
        if "schema_version" not in branch.get("required", []):
            versions = [*versions, NO_VERSION]
        for version in versions:
            by_version.setdefault(version, branch)
    return by_version


def _narrowings(old: Any, new: Any, where: str) -> Iterator[Break]:
    if old is False or new is True or old == new:
        return
    if new is False:
        yield Break(where, "refuses everything")
        return
    old, new = ({} if schema is True else schema for schema in (old, new))
    yield from _types(old, new, where)
    yield from _bounds(old, new, where)
    yield from _values(old, new, where)
    yield from _pattern(old.get("pattern"), new.get("pattern"), where)
    yield from _object(old, new, where)
    yield from _conditions(old, new, where)
    for keyword in sorted((set(old) | set(new)) - _MODELLED - ANNOTATIONS):
        if old.get(keyword) != new.get(keyword):
            yield Break(where, f"{keyword} changed, which this check cannot prove wider")


def _types(old: Schema, new: Schema, where: str) -> Iterator[Break]:
    if "type" not in new:
        return
    allowed = _as_set(new["type"]) | ({"integer"} if "number" in _as_set(new["type"]) else set())
    before = _as_set(old["type"]) if "type" in old else {"any type"}
    if lost := before - allowed:
        yield Break(where, f"type narrowed: {', '.join(sorted(lost))} no longer accepted")


def _bounds(old: Schema, new: Schema, where: str) -> Iterator[Break]:
    for keyword in LOWER_BOUNDS:
        if keyword in new and (keyword not in old or new[keyword] > old[keyword]):
            yield Break(where, f"{keyword} raised from {old.get(keyword, 'none')} to {new[keyword]}")
    for keyword in UPPER_BOUNDS:
        if keyword in new and (keyword not in old or new[keyword] < old[keyword]):
            yield Break(where, f"{keyword} lowered from {old.get(keyword, 'none')} to {new[keyword]}")


def _values(old: Schema, new: Schema, where: str) -> Iterator[Break]:
    allowed = _listed(new)
    if allowed is None:
        return
    before = _listed(old)
    if before is None:
        yield Break(where, f"now only {_quoted(allowed)}")
    elif lost := [value for value in before if not any(_same_json(value, kept) for kept in allowed)]:
        yield Break(where, f"{_quoted(lost)} no longer accepted")


def _pattern(old: str | None, new: str | None, where: str) -> Iterator[Break]:
    if new is None or old == new:
        return
    if old is None:
        yield Break(where, f"pattern {new!r} added")
        return
    old_class, new_class = _CHARACTER_CLASS.fullmatch(old), _CHARACTER_CLASS.fullmatch(new)
    if not (old_class and new_class):
        yield Break(where, f"pattern changed from {old!r} to {new!r}, which this check cannot prove wider")
        return
    if lost := _characters(old_class[1]) - _characters(new_class[1]):
        yield Break(where, f"pattern tightened: {_quoted(sorted(lost)[:5])}{' ...' if len(lost) > 5 else ''} refused")


def _object(old: Schema, new: Schema, where: str) -> Iterator[Break]:
    for name in sorted(set(new.get("required", [])) - set(old.get("required", []))):
        yield Break(where, f"new required field {name}")
    old_properties, new_properties = old.get("properties", {}), new.get("properties", {})
    old_others, new_others = old.get("additionalProperties", True), new.get("additionalProperties", True)
    for name in sorted(old_properties):
        if name in new_properties:
            yield from _narrowings(old_properties[name], new_properties[name], f"{where}, {name}")
        elif new_others is not True:
            yield Break(where, f"field {name} removed while unknown fields are refused")
    for name in sorted(set(new_properties) - set(old_properties)):
        if old_others is not False:  # the old schema took this field as an unknown one
            yield from _narrowings(old_others, new_properties[name], f"{where}, {name} (an unknown field before)")
    if old_others is not False or new_others is not False:
        yield from _narrowings(old_others, new_others, f"{where}, unknown fields")


def _conditions(old: Schema, new: Schema, where: str) -> Iterator[Break]:
    old_conditions = {_key(entry): entry for entry in _condition_entries(old)}
    for key, entry in ((_key(entry), entry) for entry in _condition_entries(new)):
        when = f"{where}, {_when(entry.get('if'))}"
        if key not in old_conditions:
            yield Break(when, "a new condition")
            continue
        for branch in ("then", "else"):
            yield from _narrowings(old_conditions[key].get(branch, True), entry.get(branch, True), when)


def _condition_entries(schema: Schema) -> list[Schema]:
    own = [{key: schema[key] for key in ("if", "then", "else") if key in schema}] if "if" in schema else []
    return [*own, *schema.get("allOf", [])]


def _key(entry: Schema) -> str:
    return json.dumps(entry.get("if", entry), sort_keys=True)


def _when(condition: Schema | None) -> str:
    if condition is None:
        return "always"
    stated = [
        f"{name} is {_quoted(rule['enum'] if 'enum' in rule else [rule['const']])}"
        for name, rule in condition.get("properties", {}).items()
        if "const" in rule or "enum" in rule
    ]
    return "when " + (" and ".join(stated) if stated else json.dumps(condition, sort_keys=True))


@cache
def _characters(character_class: str) -> frozenset[str]:
    """The characters of the Basic Multilingual Plane a class accepts (surrogates aside): Python and ECMA-262 read
    the generator's classes alike."""
    pattern = re.compile(character_class)
    return frozenset(
        character
        for code in range(0x10000)
        if not 0xD800 <= code <= 0xDFFF and pattern.fullmatch(character := chr(code))
    )


def _as_set(value: str | list[str]) -> set[str]:
    return {value} if isinstance(value, str) else set(value)


def _listed(schema: Schema) -> list[Any] | None:
    return [schema["const"]] if "const" in schema else list(schema["enum"]) if "enum" in schema else None


def _same_json(left: Any, right: Any) -> bool:
    """JSON equality: 1 and 1.0 are one number, true is not 1."""
    return isinstance(left, bool) == isinstance(right, bool) and left == right


def _quoted(values: list[Any]) -> str:
    return ", ".join(json.dumps(value) for value in values)
