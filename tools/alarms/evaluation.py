"""One metric alarm's state from the datapoints of its evaluation range, by the rules CloudWatch documents.

"How alarm state is evaluated when data is missing" (Amazon CloudWatch User Guide, alarm evaluation): CloudWatch
retrieves more datapoints than the alarm's evaluation periods (N), the *evaluation range*; its examples retrieve 5 for
N = 3, and so does this evaluator (N + 2). Then:
- when the range holds at least N real datapoints, the N most recent are evaluated and missing data is not needed;
- otherwise the missing ones are filled as the alarm treats missing data, as few as possible: every real datapoint
  of the range is evaluated, with N minus their number filled;
- ALARM when at least DatapointsToAlarm (M) of the N evaluated datapoints breach, OK otherwise.
Filling with ``breaching`` and ``notBreaching`` is plain. For ``missing`` and ``ignore`` nothing is filled: a range
without any datapoint leaves ``missing`` INSUFFICIENT_DATA and ``ignore`` in its current state; a range whose real
datapoints all breach, fewer than M, is ALARM for ``missing`` once the oldest of them is at least M periods old
(CloudWatch's premature-alarm avoidance, in the sixth row of the documentation's first table and AWS's knowledge
article on alarms after a single breaching datapoint), else INSUFFICIENT_DATA, and keeps the current state for
``ignore``. Alarms on a metric of the AWS/DynamoDB namespace always treat missing data as ``ignore`` (PutMetricAlarm's
reference). tests/test_evaluation.py runs every row of both of the documentation's tables.
"""

from __future__ import annotations

from collections.abc import Sequence

from tools.alarms.definitions import Comparison, MissingData, State

DYNAMODB_NAMESPACE = "AWS/DynamoDB"


def evaluation_range(evaluation_periods: int) -> int:
    """How many periods the state is computed from."""
    return evaluation_periods + 2


def alarm_state(
    datapoints: Sequence[float | None],
    *,
    threshold: float,
    comparison: Comparison,
    evaluation_periods: int,
    datapoints_to_alarm: int,
    treat_missing_data: MissingData,
    current: State,
) -> State:
    """The state after one evaluation of ``datapoints`` (the evaluation range, oldest first; None is missing)."""
    if len(datapoints) != evaluation_range(evaluation_periods):
        raise ValueError(f"expected {evaluation_range(evaluation_periods)} datapoints, got {len(datapoints)}")
    breaching = [None if value is None else comparison.breaches(value, threshold) for value in datapoints]
    real = [flag for flag in breaching if flag is not None]
    if len(real) >= evaluation_periods:
        return _state(sum(real[-evaluation_periods:]), datapoints_to_alarm)
    filled = evaluation_periods - len(real)
    match treat_missing_data:
        case MissingData.BREACHING:
            return _state(sum(real) + filled, datapoints_to_alarm)
        case MissingData.NOT_BREACHING:
            return _state(sum(real), datapoints_to_alarm)
    if sum(real) >= datapoints_to_alarm:
        return State.ALARM
    if not all(real):  # a real datapoint within the threshold
        return State.OK
    if real and treat_missing_data is MissingData.MISSING and _aged(breaching, datapoints_to_alarm):
        return State.ALARM
    return current if treat_missing_data is MissingData.IGNORE else State.INSUFFICIENT_DATA


def _state(breaching: int, datapoints_to_alarm: int) -> State:
    return State.ALARM if breaching >= datapoints_to_alarm else State.OK


def _aged(breaching: Sequence[bool | None], datapoints_to_alarm: int) -> bool:
    """The oldest real datapoint of the range is at least ``datapoints_to_alarm`` periods old (the newest is 1)."""
    oldest = next(index for index, flag in enumerate(breaching) if flag is not None)
    return len(breaching) - oldest >= datapoints_to_alarm
