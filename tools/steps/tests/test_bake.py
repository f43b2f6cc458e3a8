"""The bake check: it fails on the first ALARM, passes after the whole period, and needs the alarm to exist; its
command line exits 0, 1 or 2 accordingly, from its flags or from the variables the pipeline passes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tools.common.testing import documented_help, moto_credentials, note_assumed_roles, printed_help
from tools.steps import bake as bake_cli
from tools.steps.bake import AlarmNotFoundError, bake


class ScriptedAlarms:
    """describe_alarms answering from a script of states, one per call (the last state repeats), as AWS answers:
    a composite alarm only when CompositeAlarm is among the AlarmTypes asked for, a metric alarm when MetricAlarm is
    (or no types are given), and only the lists of the types asked for."""

    def __init__(self, *states: str, composite: bool = True, reason: bool = True) -> None:
        self.states = list(states)
        self.calls = 0
        self.composite = composite
        self.reason = reason

    def describe_alarms(self, *, AlarmNames: list[str], AlarmTypes: list[str] | None = None) -> dict[str, Any]:  # noqa: N803 - the SDK's names
        assert AlarmNames == ["iot-staging-data-path-unhealthy"]
        types = AlarmTypes or ["MetricAlarm"]
        response: dict[str, Any] = {key: [] for kind, key in KINDS.items() if kind in types}
        if not self.states:
            return response
        state = self.states[min(self.calls, len(self.states) - 1)]
        self.calls += 1
        alarm = {"StateValue": state, **({"StateReason": f"reason {self.calls}"} if self.reason else {})}
        kind = "CompositeAlarm" if self.composite else "MetricAlarm"
        if kind in types:
            response[KINDS[kind]].append(alarm)
        return response


KINDS = {"CompositeAlarm": "CompositeAlarms", "MetricAlarm": "MetricAlarms"}


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


def test_a_bake_shorter_than_a_poll_reads_the_alarm_at_its_end() -> None:
    """The last sleep is cut to what is left of the period, so the bake ends on time, not a poll later."""
    time = FakeTime()
    alarms = ScriptedAlarms("OK")
    bake(
        alarms,
        "iot-staging-data-path-unhealthy",
        minutes=0.5,
        poll_seconds=60,
        clock=lambda: time.now,
        sleep=time.sleep,
        log=lambda _: None,
    )
    assert (alarms.calls, time.now) == (2, 30)


# --- the command line, as the pipeline runs it (`make bake`: --from-environment) -----------------------------------

ALARM_NAME = "iot-staging-data-path-unhealthy"
PIPELINE_ENVIRONMENT = {
    "OBSERVABILITY_COMPOSITEALARMNAME": ALARM_NAME,
    "INGEST_SMOKETESTROLEARN": "arn:aws:iam::123456789012:role/iot-staging-smoke-test",
    "BAKE_MINUTES": "0",
}


@pytest.fixture
def cloudwatch(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """moto's CloudWatch in the stage's account, reached as the pipeline does: through the role it names."""
    moto_credentials(monkeypatch)
    assumed = note_assumed_roles(monkeypatch, bake_cli)
    with mock_aws():
        client = boto3.client("cloudwatch")
        client.assumed = assumed
        yield client


def _alarm(cloudwatch: Any, state: str) -> None:
    cloudwatch.put_metric_alarm(
        AlarmName=ALARM_NAME,
        MetricName="ReadingsFailed",
        Namespace="IotPlatform",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    cloudwatch.set_alarm_state(AlarmName=ALARM_NAME, StateValue=state, StateReason=f"went {state} (test)")


def test_main_passes_from_the_pipelines_variables_through_the_stage_role(
    cloudwatch: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    _alarm(cloudwatch, "OK")
    assert bake_cli.main(["--from-environment", "--poll-seconds", "1"], environment=PIPELINE_ENVIRONMENT) == 0
    out = capsys.readouterr().out
    assert f"{ALARM_NAME}: OK" in out
    assert out.splitlines()[-1] == f"bake passed: {ALARM_NAME} stayed out of ALARM for 0 minutes"
    assert cloudwatch.assumed == [PIPELINE_ENVIRONMENT["INGEST_SMOKETESTROLEARN"]]


def test_main_fails_with_the_alarms_reason_and_the_runbook(cloudwatch: Any, capsys: pytest.CaptureFixture[str]) -> None:
    _alarm(cloudwatch, "ALARM")
    assert bake_cli.main(["--from-environment"], environment={**PIPELINE_ENVIRONMENT, "BAKE_MINUTES": "30"}) == 1
    err = capsys.readouterr().err
    assert f"BAKE FAILED: {ALARM_NAME} went to ALARM: went ALARM (test)" in err
    assert "docs/runbooks.md#bake-failed" in err


def test_main_exits_2_when_the_alarm_does_not_exist(cloudwatch: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert bake_cli.main(["--alarm-name", "nowhere", "--minutes", "0"], environment={}) == 2
    assert "no alarm named 'nowhere'" in capsys.readouterr().err
    assert cloudwatch.assumed == [None]  # no role named: the caller's own credentials


def test_flags_win_over_the_pipelines_variables(cloudwatch: Any, capsys: pytest.CaptureFixture[str]) -> None:
    _alarm(cloudwatch, "OK")
    environment = {**PIPELINE_ENVIRONMENT, "OBSERVABILITY_COMPOSITEALARMNAME": "another", "BAKE_MINUTES": "30"}
    arguments = [
        "--from-environment",
        "--alarm-name",
        ALARM_NAME,
        "--minutes",
        "0",
        "--role-arn",
        "arn:aws:iam::123456789012:role/operator",
    ]
    assert bake_cli.main(arguments, environment=environment) == 0
    assert cloudwatch.assumed == ["arn:aws:iam::123456789012:role/operator"]


def test_without_from_environment_the_variables_are_not_read(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        bake_cli.main([], environment=PIPELINE_ENVIRONMENT)
    assert exit_info.value.code == 2
    assert "--alarm-name (or --from-environment with OBSERVABILITY_COMPOSITEALARMNAME) is required" in (
        capsys.readouterr().err
    )


@pytest.mark.parametrize(
    ("arguments", "environment", "message"),
    [
        (["--from-environment"], {**PIPELINE_ENVIRONMENT, "BAKE_MINUTES": ""}, "--minutes (or --from-environment"),
        (["--from-environment"], {**PIPELINE_ENVIRONMENT, "BAKE_MINUTES": "-1"}, "BAKE_MINUTES must be a number of 0"),
        (["--from-environment"], {**PIPELINE_ENVIRONMENT, "BAKE_MINUTES": "soon"}, "BAKE_MINUTES must be a number"),
        (["--alarm-name", "a", "--minutes", "-5"], {}, "must be a number of 0 or more, got -5"),
        (["--alarm-name", "a", "--minutes", "nan"], {}, "must be a finite number"),
        (["--alarm-name", "a", "--minutes", "ten"], {}, "must be a number, got 'ten'"),
        (["--alarm-name", "a", "--minutes", "1", "--poll-seconds", "0"], {}, "must be a number greater than 0"),
        (["--alarm-name", "a", "--minutes", "1", "--poll-seconds", "-1"], {}, "must be a number greater than 0"),
        (["--alarm-name", "a"], {}, "--minutes (or --from-environment"),
    ],
)
def test_bad_arguments_exit_2_naming_what_is_wrong(
    arguments: list[str], environment: dict[str, str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        bake_cli.main(arguments, environment=environment)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_the_help_is_what_docs_command_lines_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    assert printed_help(bake_cli.main, monkeypatch) == documented_help("tools.steps.bake")


def test_an_alarm_without_a_reason_fails_the_bake_with_an_empty_one() -> None:
    result, _ = _bake(ScriptedAlarms("ALARM", reason=False))
    assert (result.passed, result.reason) == (False, "")


@pytest.mark.parametrize("composite", [True, False])
def test_alarm_state_reads_a_composite_or_a_metric_alarm_by_name(composite: bool) -> None:
    """DescribeAlarms leaves composite alarms out unless asked for them by type: the bake must ask for both."""
    assert bake_cli.alarm_state(ScriptedAlarms("OK", composite=composite), ALARM_NAME) == ("OK", "reason 1")
