"""Composite alarm rules: each state function, the operators and their precedence, names and ARNs."""

from __future__ import annotations

import pytest

from tools.alarms.definitions import State
from tools.alarms.rules import RuleError, alarm_name, parse_rule

STATES = {"a": State.ALARM, "b": State.OK, "c": State.INSUFFICIENT_DATA}


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ('ALARM("a")', True),
        ("ALARM(b)", False),
        ('OK("b")', True),
        ("INSUFFICIENT_DATA(c)", True),
        ("INSUFFICIENT_DATA(a)", False),
        ('(ALARM("b") OR ALARM("a"))', True),
        ("ALARM(a) AND ALARM(b)", False),
        ("NOT ALARM(b)", True),
        ("NOT ALARM(a) OR ALARM(a)", True),  # NOT binds tighter than OR
        ("ALARM(b) AND ALARM(a) OR ALARM(a)", True),  # AND binds tighter than OR
        ("ALARM(b) AND (ALARM(a) OR ALARM(a))", False),
        ("TRUE AND NOT FALSE", True),
        ('ALARM("arn:aws:cloudwatch:eu-west-1:123456789012:alarm:a")', True),
    ],
)
def test_rules(rule: str, expected: bool) -> None:
    predicate, _ = parse_rule(rule)
    assert predicate(STATES) is expected


def test_the_rule_names_the_alarms_it_watches() -> None:
    _, names = parse_rule('ALARM("arn:aws:cloudwatch:r:1:alarm:x") OR (OK(y) AND NOT ALARM("z"))')
    assert names == {"x", "y", "z"}
    assert alarm_name("arn:aws:cloudwatch:r:1:alarm:iot-dev-a") == "iot-dev-a"
    assert alarm_name("iot-dev-a") == "iot-dev-a"


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        ("ALARM(a) OR", "ends too early"),
        ("(ALARM(a)", "unclosed parenthesis"),
        ("ALARM(a) ALARM(b)", "unexpected"),
        ("BROKEN(a)", "cannot read"),
        (")", "unexpected"),
    ],
)
def test_a_rule_that_cannot_be_read_is_refused_naming_it(rule: str, problem: str) -> None:
    with pytest.raises(RuleError, match=problem):
        parse_rule(rule)
