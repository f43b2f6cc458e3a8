"""A composite alarm's rule: ``ALARM(name)``, ``OK(name)`` and ``INSUFFICIENT_DATA(name)`` over other alarms (by
name or ARN, quoted or not), ``TRUE``, ``FALSE``, ``AND``, ``OR``, ``NOT`` and parentheses, as CloudWatch's
PutCompositeAlarm reference defines them (NOT binds tightest, then AND, then OR)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from tools.alarms.definitions import State

_TOKEN = re.compile(
    r'\s*(?:(ALARM|OK|INSUFFICIENT_DATA)\s*\(\s*(?:"([^"]+)"|([^()\s"]+))\s*\)|(AND|OR|NOT|TRUE|FALSE)\b|([()]))'
)
Predicate = Callable[[Mapping[str, State]], bool]


class RuleError(ValueError):
    """A rule this evaluator cannot read: the message quotes it."""


def alarm_name(reference: str) -> str:
    """The alarm's name, from its name or its ARN (arn:<partition>:cloudwatch:<region>:<account>:alarm:<name>)."""
    return reference.split(":alarm:", 1)[1] if ":alarm:" in reference else reference


def parse_rule(rule: str) -> tuple[Predicate, frozenset[str]]:
    """The rule as a predicate over the states of other alarms, and the names of those alarms."""
    tokens = _tokens(rule)
    parser = _Parser(rule, tokens)
    predicate = parser.disjunction()
    if parser.position != len(tokens):
        raise RuleError(f"unexpected {tokens[parser.position]} in rule {rule!r}")
    return predicate, frozenset(parser.names)


def _tokens(rule: str) -> list[tuple[str, ...]]:
    position, found = 0, list[tuple[str, ...]]()
    while position < len(rule.rstrip()):
        match = _TOKEN.match(rule, position)
        if not match:
            raise RuleError(f"cannot read rule {rule!r} at {rule[position:]!r}")
        state, quoted, bare, word, parenthesis = match.groups()
        found.append(("state", state, alarm_name(quoted or bare)) if state else ("word", word or parenthesis))
        position = match.end()
    return found


class _Parser:
    def __init__(self, rule: str, tokens: list[tuple[str, ...]]) -> None:
        self.rule, self.tokens, self.position = rule, tokens, 0
        self.names: set[str] = set()

    def disjunction(self) -> Predicate:
        terms = [self._conjunction()]
        while self._accept("OR"):
            terms.append(self._conjunction())
        return terms[0] if len(terms) == 1 else (lambda states: any(term(states) for term in terms))

    def _conjunction(self) -> Predicate:
        factors = [self._negation()]
        while self._accept("AND"):
            factors.append(self._negation())
        return factors[0] if len(factors) == 1 else (lambda states: all(factor(states) for factor in factors))

    def _negation(self) -> Predicate:
        if self._accept("NOT"):
            inner = self._negation()
            return lambda states: not inner(states)
        return self._atom()

    def _atom(self) -> Predicate:
        if self.position >= len(self.tokens):
            raise RuleError(f"rule {self.rule!r} ends too early")
        token = self.tokens[self.position]
        self.position += 1
        if token[0] == "state":
            state, name = State(token[1]), token[2]
            self.names.add(name)
            return lambda states: states[name] is state
        if token[1] in ("TRUE", "FALSE"):
            constant = token[1] == "TRUE"
            return lambda _: constant
        if token[1] == "(":
            inner = self.disjunction()
            if not self._accept(")"):
                raise RuleError(f"rule {self.rule!r} has an unclosed parenthesis")
            return inner
        raise RuleError(f"unexpected {token[1]!r} in rule {self.rule!r}")

    def _accept(self, word: str) -> bool:
        if self.position < len(self.tokens) and self.tokens[self.position] == ("word", word):
            self.position += 1
            return True
        return False
