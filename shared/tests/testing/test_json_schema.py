"""The validator the agreement tests judge the schema with reads it as the specification does, not as Python would."""

from __future__ import annotations

from decimal import Decimal

import pytest
from jsonschema import Draft202012Validator

from shared.testing.json_schema import NotJsonError, exact_json, exact_json_text, spec_validator

TEXT = '{"type": "string", "pattern": "^[a-z]*$"}'


def test_a_pattern_is_ecma_262_where_dollar_is_the_end_of_the_text() -> None:
    assert not spec_validator(TEXT).is_valid("abc\n")
    assert spec_validator(TEXT).is_valid("abc")
    assert Draft202012Validator(exact_json(TEXT)).is_valid("abc\n")  # the trap: re.search reads $ the Python way


def test_numbers_are_exact_decimals_and_a_whole_decimal_is_an_integer() -> None:
    lowest = spec_validator('{"minimum": -273.15}')
    assert lowest.is_valid(exact_json("-273.15"))
    assert not lowest.is_valid(exact_json("-273.150000000000000001"))
    integer = spec_validator('{"type": "integer"}')
    assert integer.is_valid(exact_json("1.795e12"))
    assert not integer.is_valid(exact_json("1795000000000.5"))
    assert exact_json("0.1") == Decimal("0.1")


@pytest.mark.parametrize("text", ["NaN", "-Infinity", '{"value": Infinity}'])
def test_nan_and_infinity_are_not_json(text: str) -> None:
    with pytest.raises(NotJsonError):
        exact_json(text)


def test_decimals_are_written_as_the_exact_numbers_they_are() -> None:
    document = {"value": Decimal("-273.150000000000000001"), "text": "\u0000 0 \u0000", "list": [Decimal("1E+3")]}
    text = exact_json_text(document)
    assert text == '{"value": -273.150000000000000001, "text": "\\u0000 0 \\u0000", "list": [1E+3]}'
    assert exact_json(text) == document
    with pytest.raises(TypeError, match="set is not JSON"):
        exact_json_text({"value": {1}})
