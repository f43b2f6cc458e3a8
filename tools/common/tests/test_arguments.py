"""The argument types every tool's command line shares: each limit on both sides, and every kind of bad value."""

from __future__ import annotations

import argparse
from collections.abc import Callable

import pytest

from tools.common.arguments import non_negative_number, positive_int, positive_number, share


@pytest.mark.parametrize(("raw", "value"), [("1", 1), ("10000", 10_000), (" 7 ", 7)])
def test_positive_int_takes_whole_numbers_from_1(raw: str, value: int) -> None:
    assert positive_int(raw) == value


@pytest.mark.parametrize("raw", ["0", "-1", "-10000"])
def test_positive_int_refuses_0_and_below(raw: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=f"must be a positive integer, got {raw}"):
        positive_int(raw)


@pytest.mark.parametrize("raw", ["1.5", "ten", "", "1e3"])
def test_positive_int_refuses_what_is_not_a_whole_number(raw: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=f"must be a whole number, got {raw!r}"):
        positive_int(raw)


@pytest.mark.parametrize(("raw", "value"), [("0.001", 0.001), ("1", 1.0), ("1e3", 1000.0)])
def test_positive_number_takes_finite_numbers_above_0(raw: str, value: float) -> None:
    assert positive_number(raw) == value


@pytest.mark.parametrize("raw", ["0", "-0.001", "-5", "0.0"])
def test_positive_number_refuses_0_and_below(raw: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=f"must be a number greater than 0, got {raw}"):
        positive_number(raw)


@pytest.mark.parametrize(("raw", "value"), [("0", 0.0), ("0.0", 0.0), ("30", 30.0), ("0.5", 0.5)])
def test_non_negative_number_takes_0_and_above(raw: str, value: float) -> None:
    assert non_negative_number(raw) == value


@pytest.mark.parametrize("raw", ["-0.001", "-1"])
def test_non_negative_number_refuses_negatives(raw: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=f"must be a number of 0 or more, got {raw}"):
        non_negative_number(raw)


@pytest.mark.parametrize(("raw", "value"), [("0", 0.0), ("1", 1.0), ("0.25", 0.25)])
def test_share_takes_0_to_1_inclusive(raw: str, value: float) -> None:
    assert share(raw) == value


@pytest.mark.parametrize("raw", ["-0.01", "1.01", "2"])
def test_share_refuses_outside_0_to_1(raw: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=f"must be between 0 and 1, got {raw}"):
        share(raw)


@pytest.mark.parametrize("parse", [positive_number, non_negative_number, share])
@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("nan", "must be a finite number"),
        ("inf", "must be a finite number"),
        ("-inf", "must be a finite number"),
        ("lots", "must be a number, got 'lots'"),
    ],
)
def test_every_number_refuses_what_is_not_a_finite_number(
    parse: Callable[[str], float], raw: str, message: str
) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        parse(raw)
