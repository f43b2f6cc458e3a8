"""Every row of both tables in CloudWatch's documentation of alarm evaluation with missing data, in every column,
and the rules around them: M of N, the comparisons at their threshold, and the evaluation range's length.

In the tables a row is the evaluation range, oldest first: 0 within the threshold, X breaching, - missing. The
threshold here is 1 with GreaterThanOrEqualToThreshold, so X is 1 and 0 is 0.
"""

from __future__ import annotations

import pytest

from tools.alarms.definitions import Comparison, MissingData, State
from tools.alarms.evaluation import alarm_state, evaluation_range

RETAINED = "retain"  # the documentation's "Retain current state"
COLUMNS = (MissingData.MISSING, MissingData.IGNORE, MissingData.BREACHING, MissingData.NOT_BREACHING)
OK, ALARM, INSUFFICIENT = State.OK, State.ALARM, State.INSUFFICIENT_DATA
# Datapoints to Alarm and Evaluation Periods both 3; CloudWatch retrieves the 5 most recent datapoints.
THREE_OF_THREE = [
    ("0 - X - X", (OK, OK, OK, OK)),
    ("0 - - - -", (OK, OK, OK, OK)),
    ("- - - - -", (INSUFFICIENT, RETAINED, ALARM, OK)),
    ("0 X X - X", (ALARM, ALARM, ALARM, ALARM)),
    ("- - - - X", (INSUFFICIENT, RETAINED, ALARM, OK)),
    ("X - - - -", (ALARM, RETAINED, ALARM, OK)),
]
# Datapoints to Alarm 2 of Evaluation Periods 3.
TWO_OF_THREE = [
    ("0 - X - X", (ALARM, ALARM, ALARM, ALARM)),
    ("0 0 X 0 X", (ALARM, ALARM, ALARM, ALARM)),
    ("0 - X - -", (OK, OK, ALARM, OK)),
    ("- - - - 0", (OK, OK, ALARM, OK)),
    ("- - - - X", (INSUFFICIENT, RETAINED, ALARM, OK)),
]


def points(row: str) -> list[float | None]:
    return [{"0": 0.0, "X": 1.0, "-": None}[cell] for cell in row.split()]


def state(row: str, treatment: MissingData, *, to_alarm: int, current: State = OK) -> State:
    return alarm_state(
        points(row),
        threshold=1,
        comparison=Comparison.GREATER_OR_EQUAL,
        evaluation_periods=3,
        datapoints_to_alarm=to_alarm,
        treat_missing_data=treatment,
        current=current,
    )


@pytest.mark.parametrize(("to_alarm", "table"), [(3, THREE_OF_THREE), (2, TWO_OF_THREE)], ids=["3of3", "2of3"])
@pytest.mark.parametrize("column", range(4), ids=[str(c) for c in COLUMNS])
def test_the_documentations_tables(to_alarm: int, table: list[tuple[str, tuple[object, ...]]], column: int) -> None:
    for row, expected in table:
        treatment = COLUMNS[column]
        if expected[column] == RETAINED:
            for current in State:
                assert state(row, treatment, to_alarm=to_alarm, current=current) is current, (row, current)
        else:
            assert state(row, treatment, to_alarm=to_alarm) is expected[column], row


def test_the_evaluation_range_is_two_periods_more_than_the_evaluation_periods() -> None:
    assert [evaluation_range(n) for n in (1, 3, 5)] == [3, 5, 7]
    with pytest.raises(ValueError, match="expected 5 datapoints, got 4"):
        alarm_state(
            [0, 0, 0, 0],
            threshold=1,
            comparison=Comparison.GREATER,
            evaluation_periods=3,
            datapoints_to_alarm=3,
            treat_missing_data=MissingData.MISSING,
            current=OK,
        )


@pytest.mark.parametrize(
    ("comparison", "below", "at", "above"),
    [
        (Comparison.GREATER, False, False, True),
        (Comparison.GREATER_OR_EQUAL, False, True, True),
        (Comparison.LESS, True, False, False),
        (Comparison.LESS_OR_EQUAL, True, True, False),
    ],
)
def test_each_comparison_on_both_sides_of_its_threshold(
    comparison: Comparison, below: bool, at: bool, above: bool
) -> None:
    assert [comparison.breaches(value, 5) for value in (4.99, 5, 5.01)] == [below, at, above]


def test_m_of_n_counts_breaching_datapoints_anywhere_in_the_newest_n() -> None:
    def three_of_five(row: str) -> State:
        return alarm_state(
            points(row),
            threshold=1,
            comparison=Comparison.GREATER_OR_EQUAL,
            evaluation_periods=5,
            datapoints_to_alarm=3,
            treat_missing_data=MissingData.NOT_BREACHING,
            current=OK,
        )

    assert three_of_five("0 0 X 0 X 0 X") is ALARM  # not consecutive
    assert three_of_five("X X X 0 0 0 0") is OK  # only one of them among the newest five
    assert three_of_five("X X 0 0 X 0 X") is OK
    assert three_of_five("0 0 0 0 X 0 X") is OK


def test_with_enough_real_datapoints_the_missing_ones_are_not_filled() -> None:
    for treatment in COLUMNS:
        assert state("X - 0 0 0", treatment, to_alarm=1) is OK
        assert state("0 - X 0 0", treatment, to_alarm=1) is ALARM
