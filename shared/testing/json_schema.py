"""Validating documents against the published reading schema as the JSON Schema specification reads it.

Two differences from the jsonschema package's defaults matter at the contract's edges:

- ``pattern`` is an ECMA-262 regular expression. jsonschema matches it with Python's ``re.search``, whose ``$`` also
  matches before a final newline, so ``"s-1\\n"`` would pass ``^[A-Za-z0-9._:@/-]*$``; regress is ECMA-262's.
- numbers are read as exact decimals, as the processor reads them: ``-273.150000000000000001`` is below
  ``-273.15``, which a binary float cannot tell, and ``1.795e12`` is an integer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from decimal import Decimal
from functools import cache
from typing import Any

import regress
from jsonschema import Draft202012Validator, ValidationError, validators
from jsonschema.protocols import Validator


@cache
def _ecma(pattern: str) -> regress.Regex:
    return regress.Regex(pattern)


def _ecma_pattern(
    validator: Validator,
    pattern: str,
    instance: Any,
    schema: Any,  # noqa: ARG001 - jsonschema passes every keyword function the schema
) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and _ecma(pattern).find(_as_utf8_text(instance)) is None:
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _as_utf8_text(text: str) -> str:
    """regress reads UTF-8, which has no lone surrogates (ECMA-262 strings may hold them): U+FFFD stands in, which
    every class of the reading schema treats as it would treat a surrogate. The processor refuses lone surrogates,
    a rule the schema states only in words."""
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace") if not text.isascii() else text


def _integer(checker: Any, instance: Any) -> bool:  # noqa: ARG001 - a type check's signature
    if isinstance(instance, Decimal):
        return instance.is_finite() and instance == instance.to_integral_value()
    return bool(Draft202012Validator.TYPE_CHECKER.is_type(instance, "integer"))


_SpecValidator = validators.extend(  # type: ignore[no-untyped-call]  # untyped in types-jsonschema
    Draft202012Validator,
    validators={"pattern": _ecma_pattern},
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _integer),
)


class NotJsonError(ValueError):
    """Text that RFC 8259 does not call JSON (NaN, Infinity): outside any schema's domain."""


def _refuse_constant(name: str) -> None:
    raise NotJsonError(f"{name} is not JSON")


def exact_json(text: str | bytes) -> Any:
    """JSON with every fraction or exponent as a Decimal; NaN and Infinity refused, as RFC 8259 has neither."""
    return json.loads(text, parse_float=Decimal, parse_constant=_refuse_constant)


def exact_json_text(document: Any) -> str:
    """``document`` as JSON text, each Decimal written as the exact number it is (json.dumps cannot)."""
    numbers: list[str] = []

    def placeholder(value: object) -> str:
        if not isinstance(value, Decimal):
            raise TypeError(f"{type(value).__name__} is not JSON")
        numbers.append(str(value))
        return f"\0{len(numbers) - 1}\0"

    text = json.dumps(document, default=placeholder, ensure_ascii=False)
    return re.sub(r'"\\u0000([0-9]+)\\u0000"', lambda match: numbers[int(match[1])], text)


def spec_validator(schema_text: str) -> Validator:
    """A validator of ``schema_text`` that reads patterns as ECMA-262 and numbers as exact decimals."""
    schema = exact_json(schema_text)
    _SpecValidator.check_schema(schema)
    validator: Validator = _SpecValidator(schema)
    return validator
