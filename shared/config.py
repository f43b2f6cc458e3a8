"""Typed, validated settings from CDK context: the generic part that every owner's config module builds on.

Values live in cdk.json under the ``iot`` context key (camelCase, as CDK context is) and can be overridden per field
on the command line: ``cdk synth -c iot.stages.prod.ingest.shardCount=20``. Each owner declares its settings as a
frozen, keyword-only dataclass whose fields carry their own check (``checked``) and whose ``cross_field_errors``
method, if it has one, checks fields against each other. ``build`` turns a camelCase mapping into that dataclass and
reports one message per bad field, each with its path, so a synth names every problem at once.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import json
import re
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import field
from typing import Any, Literal, TypeVar, get_args, get_origin, get_type_hints

from shared.infra.naming import pascal_case
from shared.repository import REPO_ROOT

CONTEXT_KEY = "iot"
CDK_JSON = REPO_ROOT / "cdk.json"

Settings = TypeVar("Settings")

Check = Callable[[Any], "str | None"]
"""Returns what is wrong with a value, or None when it is fine."""


class ConfigError(ValueError):
    """Raised when configuration is missing or malformed; the message names each bad field."""


def checked(check: Check, **kwargs: Any) -> Any:
    """A dataclass field whose value is checked by ``check`` when the config is built."""
    return field(metadata={"check": check}, **kwargs)


def positive(value: float) -> str | None:
    return None if value > 0 else f"must be greater than 0, got {value}"


def non_negative(value: float) -> str | None:
    return None if value >= 0 else f"must be 0 or more, got {value}"


def not_blank(value: str) -> str | None:
    return None if value.strip() else "must not be empty"


def between(low: float, high: float) -> Check:
    def check(value: float) -> str | None:
        return None if low <= value <= high else f"must be between {low} and {high}, got {value}"

    return check


def matches(pattern: str, what: str) -> Check:
    compiled = re.compile(pattern)

    def check(value: str) -> str | None:
        return None if compiled.fullmatch(value) else f"must be {what}, got {value!r}"

    return check


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def emails(values: tuple[str, ...]) -> str | None:
    bad = [value for value in values if not _EMAIL.fullmatch(value)]
    return f"holds malformed e-mail addresses: {bad}" if bad else None


aws_account = matches(r"\d{12}", "a 12-digit AWS account id")
aws_region = matches(r"[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d", "an AWS region such as eu-west-1")


def committed_context() -> dict[str, Any]:
    """The context committed in cdk.json (feature flags and the ``iot`` settings), as the CDK CLI passes it."""
    context: dict[str, Any] = json.loads(CDK_JSON.read_text(encoding="utf-8"))["context"]
    return context


def configured_stages(context: Mapping[str, Any]) -> tuple[str, ...]:
    """The names of the stages under ``iot.stages``, overrides applied."""
    return tuple(as_object(platform_settings(context).get("stages", {}), "stages"))


def platform_settings(context: Mapping[str, Any]) -> dict[str, Any]:
    """The ``iot`` context object with every ``iot.<path>`` override applied (on a copy)."""
    return _apply_overrides(as_object(context.get(CONTEXT_KEY), CONTEXT_KEY), context)


def load_section(context: Mapping[str, Any], cls: type[Settings], *path: str) -> Settings:
    """One owner's settings at ``iot.<path>`` (overrides applied), or a ConfigError naming every bad field."""
    errors: list[str] = []
    built = build(cls, section(context, *path), f"{'.'.join(path)}.", errors)
    raise_if_invalid(errors)
    return typing.cast(Settings, built)


def section(context: Mapping[str, Any], *path: str) -> Any:
    """The raw value at ``iot.<path>``, overrides applied; a ConfigError names the first part that is missing."""
    node: Any = platform_settings(context)
    for depth, part in enumerate(path):
        node = as_object(node, ".".join(path[:depth]) or CONTEXT_KEY).get(part)
        if node is None:
            raise ConfigError(f"{CONTEXT_KEY}.{'.'.join(path[: depth + 1])}: missing")
    return node


def raise_if_invalid(errors: list[str]) -> None:
    """One ConfigError listing every problem ``build`` found, if it found any."""
    if errors:
        raise ConfigError("invalid iot configuration in cdk.json / -c overrides:\n  - " + "\n  - ".join(errors))


def as_object(value: Any, path: str) -> dict[str, Any]:
    if isinstance(value, str):  # `-c iot='{...}'` arrives as a JSON string
        try:
            value = json.loads(value)
        except json.JSONDecodeError as error:
            raise ConfigError(f"{path}: not valid JSON ({error})") from error
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: expected an object, got {type(value).__name__}")
    return value


def _apply_overrides(raw: dict[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
    """Apply ``-c iot.stages.dev.account=...`` style overrides onto a deep copy of the base object."""
    merged: dict[str, Any] = json.loads(json.dumps(raw))
    for key, value in context.items():
        if not key.startswith(CONTEXT_KEY + "."):
            continue
        *parents, leaf = key[len(CONTEXT_KEY) + 1 :].split(".")
        node = merged
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {key}: {part!r} is not an object")
        node[leaf] = value
    return merged


def camel(name: str) -> str:
    head, _, rest = name.partition("_")
    return head + pascal_case(rest)


def build(cls: type[Any], raw: Any, path: str, errors: list[str]) -> Any:
    """Create ``cls`` from a camelCase mapping, appending one message per bad field to ``errors``."""
    if not isinstance(raw, dict):
        errors.append(f"{path.rstrip('.') or cls.__name__}: expected an object, got {type(raw).__name__}")
        return None
    hints = get_type_hints(cls)
    fields = {camel(f.name): f for f in dataclasses.fields(cls)}
    errors_before = len(errors)
    errors.extend(f"{path}{key}: unknown setting" for key in raw if key not in fields)
    values: dict[str, Any] = {}
    for key, spec in fields.items():
        where = f"{path}{key}"
        if key not in raw:
            if spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
                errors.append(f"{where}: missing")
            continue
        value, problem = _coerce(hints[spec.name], raw[key], where, errors)
        if problem is None and "check" in spec.metadata:
            problem = spec.metadata["check"](value)
        if problem is not None:
            errors.append(f"{where}: {problem}")
        values[spec.name] = value
    if len(errors) != errors_before:
        return None
    built = cls(**values)
    cross_field_errors = getattr(built, "cross_field_errors", None)
    if cross_field_errors is not None:
        errors.extend(f"{path}{problem}" for problem in cross_field_errors())
    return built


def _coerce(hint: Any, value: Any, where: str, errors: list[str]) -> tuple[Any, str | None]:
    """Convert one raw value (JSON or a ``-c`` string) to ``hint``; return (value, problem)."""
    origin = get_origin(hint)
    if origin in (typing.Union, types.UnionType) and type(None) in get_args(hint):
        if value is None or value == "null":  # `-c iot.<path>=null` arrives as a string
            return None, None
        (hint,) = [arg for arg in get_args(hint) if arg is not type(None)]
        origin = get_origin(hint)
    if dataclasses.is_dataclass(hint):
        built = build(typing.cast(type, hint), _parse_json(value), where + ".", errors)
        return built, None  # build reported its own errors
    if origin in (dict, Mapping, collections.abc.Mapping):
        entries = _parse_json(value)
        if not isinstance(entries, dict):
            return None, f"must be an object, got {value!r}"
        value_hint = get_args(hint)[1]
        coerced = {name: _coerce(value_hint, entry, f"{where}.{name}", errors) for name, entry in entries.items()}
        problems = [f"{name}: {problem}" for name, (_, problem) in coerced.items() if problem]
        return (
            (types.MappingProxyType({k: v for k, (v, _) in coerced.items()}), None)
            if not problems
            else (None, problems[0])
        )
    if origin is Literal:
        allowed = get_args(hint)
        return (value, None) if value in allowed else (None, f"must be one of {list(allowed)}, got {value!r}")
    if origin is tuple:
        items = json.loads(value) if isinstance(value, str) and value.startswith("[") else value
        if isinstance(items, str):
            items = [item for item in items.split(",") if item]
        if not isinstance(items, list):
            return None, f"must be a list, got {value!r}"
        item_hint = get_args(hint)[0]
        converted = [_coerce(item_hint, item, where, errors) for item in items]
        problems = [problem for _, problem in converted if problem]
        return (tuple(item for item, _ in converted), None) if not problems else (None, problems[0])
    if hint is bool:
        value = {"true": True, "false": False}.get(value, value) if isinstance(value, str) else value  # -c strings
        return (value, None) if isinstance(value, bool) else (None, f"must be true or false, got {value!r}")
    if hint in (int, float):
        return _number(hint, value)
    if hint is str:
        return (value, None) if isinstance(value, str) else (None, f"must be a string, got {value!r}")
    raise TypeError(f"{where}: unsupported config type {hint}")  # a programming error, not bad input


def _parse_json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _number(hint: type, value: Any) -> tuple[Any, str | None]:
    wrong = f"must be {'an integer' if hint is int else 'a number'}, got {value!r}"
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return None, wrong
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None, wrong
    if hint is int:
        return (value, None) if isinstance(value, int) else (None, wrong)
    return float(value), None
