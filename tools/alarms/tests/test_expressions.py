"""Metric math over series: what each operator and function gives, where a value is missing, and what is refused."""

from __future__ import annotations

import pytest

from tools.alarms.expressions import Context, ExpressionError, evaluate, referenced_ids

PERIODS = [0, 60, 120, 180]
CONTEXT = Context(
    series={"received": {0: 10.0, 60: 0.0, 120: 4.0}, "quarantined": {0: 1.0, 60: 0.0, 180: 2.0}},
    periods=PERIODS,
    period=60,
)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("IF(received > 0, quarantined / received, 0)", {0: 0.1, 60: 0.0}),
        ("quarantined / received", {0: 0.1}),  # no value where the divisor is 0 or either is missing
        ("received + 1", {0: 11.0, 60: 1.0, 120: 5.0}),
        ("received - quarantined * 2", {0: 8.0, 60: 0.0}),
        ("(received - quarantined) * 2", {0: 18.0, 60: 0.0}),
        ("-received", {0: -10.0, 60: -0.0, 120: -4.0}),
        ("FILL(quarantined, 0)", {0: 1.0, 60: 0.0, 120: 0.0, 180: 2.0}),
        ("received / PERIOD(received)", {0: 10 / 60, 60: 0.0, 120: 4 / 60}),
        ("received >= 4 AND received <= 4", {0: 0.0, 60: 0.0, 120: 1.0}),
        ("received == 0 OR received != 10", {0: 0.0, 60: 1.0, 120: 1.0}),
        ("received < 1", {0: 0.0, 60: 1.0, 120: 0.0}),
        ("2 * 3", dict.fromkeys(PERIODS, 6.0)),
        ("IF(1, received, 0)", {0: 10.0, 60: 0.0, 120: 4.0}),
    ],
)
def test_each_operator_and_function(expression: str, expected: dict[int, float]) -> None:
    assert evaluate(expression, CONTEXT) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("RATE(received)", "calls RATE"),
        ("FILL(received, REPEAT)", "reads 'REPEAT'"),
        ("FILL(received)", "FILL is called with arguments"),
        ("received / other", "reads 'other'"),
        ("received +", "ends too early"),
        ("(received", "expected ')'"),
        ("received received", "unexpected 'received'"),
        ("received # 2", "cannot read"),
        ("1 / 0", "divided by zero"),
    ],
)
def test_what_is_not_understood_is_refused_naming_it(expression: str, problem: str) -> None:
    with pytest.raises(ExpressionError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        evaluate(expression, CONTEXT)


def test_the_ids_an_expression_reads_are_its_lower_case_names() -> None:
    assert referenced_ids("IF(received > 0, quarantined / received, 0)") == {"received", "quarantined"}
    assert referenced_ids("FILL(m1, 0) + PERIOD(m2)") == {"m1", "m2"}
