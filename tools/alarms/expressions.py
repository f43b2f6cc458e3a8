"""The part of CloudWatch's metric math that the platform's alarms and graphs use, evaluated over time series.

Numbers, the ids of other queries, ``+ - * /``, comparisons (``> < >= <= == !=``, 1 or 0), ``AND`` and ``OR``,
parentheses, ``IF(condition, a, b)``, ``FILL(m, value)`` and ``PERIOD(m)``. As in CloudWatch, an operation between
two series has a value only where both do; dividing by zero gives no value. Anything else (other functions, SEARCH,
FILL's REPEAT and LINEAR) is refused with an error that names it, rather than answered wrongly.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

Series = dict[int, float]  # period start (epoch seconds) -> value
Value = Series | float

_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d+)?)|([A-Za-z_][A-Za-z0-9_]*)|(>=|<=|==|!=|[-+*/()<>,]))")
_ARITHMETIC: dict[str, Callable[[float, float], float]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
}
_COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    "<": operator.lt,
    ">=": operator.ge,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}
_FUNCTIONS = frozenset({"IF", "FILL", "PERIOD"})


class ExpressionError(ValueError):
    """An expression this evaluator does not understand: the message quotes it."""


@dataclass(frozen=True)
class Context:
    """What an expression is evaluated against: the series of the other queries and the periods of the range."""

    series: Mapping[str, Series]
    periods: Sequence[int]  # the start of every period in the range, for FILL
    period: int  # seconds, for PERIOD


def evaluate(expression: str, context: Context) -> Series:
    parser = _Parser(expression, context)
    value = parser.expression()
    parser.end()
    return value if isinstance(value, dict) else dict.fromkeys(context.periods, value)


def referenced_ids(expression: str) -> set[str]:
    """The query ids an expression reads: CloudWatch's ids start with a lower-case letter, its functions do not."""
    return {name for _, name, _ in _tokens(expression) if name[:1].islower()}


def _tokens(expression: str) -> list[tuple[str, str, str]]:
    position, found = 0, []
    while position < len(expression.rstrip()):
        match = _TOKEN.match(expression, position)
        if not match:
            raise ExpressionError(f"cannot read {expression!r} at {expression[position:]!r}")
        found.append((match.group(1) or "", match.group(2) or "", match.group(3) or ""))
        position = match.end()
    return found


class _Parser:
    def __init__(self, expression: str, context: Context) -> None:
        self._text = expression
        self._tokens = _tokens(expression)
        self._context = context
        self._next = 0

    def end(self) -> None:
        if self._next != len(self._tokens):
            raise ExpressionError(f"unexpected {self._peek()!r} in {self._text!r}")

    def expression(self) -> Value:
        value = self._logical("AND", self._comparison)
        while self._accept_word("OR"):
            value = _combine(value, self._logical("AND", self._comparison), lambda a, b: float(bool(a) or bool(b)))
        return value

    def _logical(self, word: str, operand: Callable[[], Value]) -> Value:
        value = operand()
        while self._accept_word(word):
            value = _combine(value, operand(), lambda a, b: float(bool(a) and bool(b)))
        return value

    def _comparison(self) -> Value:
        value = self._sum()
        symbol = self._peek()
        if symbol in _COMPARISONS:
            self._next += 1
            compare = _COMPARISONS[symbol]
            value = _combine(value, self._sum(), lambda a, b: float(compare(a, b)))
        return value

    def _sum(self) -> Value:
        return self._left_to_right(("+", "-"), self._product)

    def _product(self) -> Value:
        return self._left_to_right(("*", "/"), self._unary)

    def _left_to_right(self, symbols: tuple[str, str], operand: Callable[[], Value]) -> Value:
        value = operand()
        while self._peek() in symbols:
            symbol = self._take()
            value = _combine(value, operand(), _ARITHMETIC[symbol])
        return value

    def _unary(self) -> Value:
        if self._peek() == "-":
            self._next += 1
            return _combine(0.0, self._unary(), operator.sub)
        return self._primary()

    def _primary(self) -> Value:
        if self._next >= len(self._tokens):
            raise ExpressionError(f"{self._text!r} ends too early")
        number, name, symbol = self._tokens[self._next]
        self._next += 1
        if number:
            return float(number)
        if symbol == "(":
            value = self.expression()
            self._expect(")")
            return value
        if name and self._peek() == "(":
            return self._function(name)
        if name in self._context.series:
            return dict(self._context.series[name])
        raise ExpressionError(f"{self._text!r} reads {name or symbol!r}, which is not one of its metrics")

    def _function(self, name: str) -> Value:
        if name not in _FUNCTIONS:
            raise ExpressionError(f"{self._text!r} calls {name}, which this evaluator does not implement")
        self._expect("(")
        arguments = [self.expression()]
        while self._peek() == ",":
            self._next += 1
            arguments.append(self.expression())
        self._expect(")")
        if name == "IF" and len(arguments) == 3:
            return _if(*arguments)
        if (
            name == "FILL"
            and len(arguments) == 2
            and isinstance(arguments[0], dict)
            and isinstance(arguments[1], float)
        ):
            return {start: arguments[0].get(start, arguments[1]) for start in self._context.periods}
        if name == "PERIOD" and len(arguments) == 1 and isinstance(arguments[0], dict):
            return dict.fromkeys(arguments[0], float(self._context.period))
        raise ExpressionError(f"{self._text!r}: {name} is called with arguments this evaluator does not take")

    def _peek(self) -> str:
        if self._next >= len(self._tokens):
            return ""
        number, name, symbol = self._tokens[self._next]
        return number or name or symbol

    def _take(self) -> str:
        token = self._peek()
        self._next += 1
        return token

    def _accept_word(self, word: str) -> bool:
        if self._peek() == word:
            self._next += 1
            return True
        return False

    def _expect(self, symbol: str) -> None:
        if self._peek() != symbol:
            raise ExpressionError(f"{self._text!r}: expected {symbol!r}, found {self._peek() or 'the end'!r}")
        self._next += 1


def _combine(left: Value, right: Value, apply: Callable[[float, float], float]) -> Value:
    if isinstance(left, float) and isinstance(right, float):
        value = _apply(apply, left, right)
        if value is None:
            raise ExpressionError("a constant divided by zero")
        return value
    if isinstance(left, dict) and isinstance(right, dict):
        starts = left.keys() & right.keys()
    else:
        starts = set(left if isinstance(left, dict) else right)  # type: ignore[arg-type]  # one of them is a series
    combined: Series = {}
    for start in sorted(starts):
        a = left[start] if isinstance(left, dict) else left
        b = right[start] if isinstance(right, dict) else right
        value = _apply(apply, a, b)
        if value is not None:
            combined[start] = value
    return combined


def _apply(apply: Callable[[float, float], float], a: float, b: float) -> float | None:
    try:
        return apply(a, b)
    except ZeroDivisionError:
        return None


def _if(condition: Value, when_true: Value, when_false: Value) -> Value:
    if not isinstance(condition, dict):
        return when_true if condition else when_false
    chosen: Series = {}
    for start, flag in condition.items():
        branch = when_true if flag else when_false
        value = branch.get(start) if isinstance(branch, dict) else branch
        if value is not None:
            chosen[start] = value
    return chosen
