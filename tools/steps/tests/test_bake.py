"""The bake check: it fails on the first ALARM, passes after the whole period, and needs the alarm to exist."""

from __future__ import annotations

from typing import Any

import pytest

from tools.steps.bake import AlarmNotFoundError, bake


class ScriptedAlarms:
    """describe_alarms answering from a script of states, one per call; the last state repeats."""

    def __init__(self, *states: str, composite: bool = True) -> None:
        self.states = list(states)
        self.calls = 0
        self.composite = composite

    def describe_alarms(self, **request: Any) -> dict[str, Any]:
        assert request["AlarmNames"] == ["iot-staging-data-path-unhealthy"]
        if not self.states:
            return {"CompositeAlarms": [], "MetricAlarms": []}
        state = self.states[min(self.calls, len(self.states) - 1)]
        self.calls += 1
        alarm = {"StateValue": state, "StateReason": f"reason {self.calls}"}
        return {"CompositeAlarms": [alarm] if self.composite else [], "MetricAlarms": [] if self.composite else [alarm]}


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _bake(alarms: ScriptedAlarms, minutes: float = 10) -> Any:
    time = FakeTime()
    result = bake(
        alarms,
        "iot-staging-data-path-unhealthy",
        minutes=minutes,
        poll_seconds=60,
        clock=lambda: time.now,
        sleep=time.sleep,
        log=lambda _: None,
    )
    return result, time.now


def test_a_bake_that_stays_ok_passes_after_the_whole_period() -> None:
    result, elapsed = _bake(ScriptedAlarms("OK"))
    assert result.passed
    assert elapsed == 600
    assert [state for _, state in result.states] == ["OK"] * 11  # at 0, 1, ..., 10 minutes


def test_insufficient_data_does_not_fail_the_bake() -> None:
    result, _ = _bake(ScriptedAlarms("OK", "INSUFFICIENT_DATA", "OK"))
    assert result.passed


def test_the_first_alarm_fails_the_bake_at_once_with_its_reason() -> None:
    alarms = ScriptedAlarms("OK", "OK", "ALARM", "OK")
    result, elapsed = _bake(alarms)
    assert not result.passed
    assert elapsed == 120
    assert result.reason == "reason 3"
    assert alarms.calls == 3


def test_an_alarm_in_the_last_read_fails_the_bake() -> None:
    result, _ = _bake(ScriptedAlarms(*["OK"] * 10, "ALARM"))
    assert not result.passed


def test_a_metric_alarm_is_read_too() -> None:
    result, _ = _bake(ScriptedAlarms("ALARM", composite=False))
    assert not result.passed


def test_zero_minutes_reads_the_alarm_once() -> None:
    alarms = ScriptedAlarms("OK")
    result, elapsed = _bake(alarms, minutes=0)
    assert result.passed
    assert (alarms.calls, elapsed) == (1, 0)


def test_a_missing_alarm_is_an_error_not_a_pass() -> None:
    with pytest.raises(AlarmNotFoundError, match="iot-staging-data-path-unhealthy"):
        _bake(ScriptedAlarms())
