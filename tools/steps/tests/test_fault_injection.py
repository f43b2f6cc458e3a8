"""The fault injection step on moto: the experiment's lifecycle (moto's FIS), the readings put while it runs, the
alarms it watches, the verdict, and the command line end to end with the stage's processor, Firehose and alert
topic played by tools/landing/testing."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from shared.synthetic.readings import synthetic_records
from tools.common.testing import documented_help, moto_credentials, note_assumed_roles, printed_help
from tools.landing.locate import Landing
from tools.steps import fault_injection
from tools.steps.bake import AlarmNotFoundError
from tools.steps.fault_injection import ExperimentRun, Watch, duration_seconds, main, run_experiment, verdict
from tools.steps.tests.stage import landing_stage

ROLE = "arn:aws:iam::123456789012:role/iot-staging-smoke-test"
RAISED, COMPOSITE = "iot-staging-processor-errors", "iot-staging-data-path-unhealthy"
NOW = "2026-12-01T00:00:00+00:00"
FUNCTION = "arn:aws:lambda:eu-west-1:123456789012:function:processor"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str | None]]:
    moto_credentials(monkeypatch)
    assumed = note_assumed_roles(monkeypatch, fault_injection, session_name="iot-fault-injection")
    with mock_aws():
        # moto has no composite alarms: the stage's composite is a metric alarm here, read by name all the same
        for name in (RAISED, COMPOSITE):
            boto3.client("cloudwatch").put_metric_alarm(
                AlarmName=name,
                MetricName="Errors",
                Namespace="AWS/Lambda",
                Statistic="Sum",
                Period=300,
                EvaluationPeriods=1,
                Threshold=1,
                ComparisonOperator="GreaterThanOrEqualToThreshold",
            )
        yield assumed


def template(minutes: int = 2) -> str:
    fis = boto3.client("fis")
    action = {
        "actionId": "aws:lambda:invocation-error",
        "parameters": {"duration": f"PT{minutes}M", "invocationPercentage": "10", "preventExecution": "true"},
        "targets": {"Functions": "Functions"},
    }
    delay = {**action, "actionId": "aws:lambda:invocation-add-delay", "parameters": {"duration": "PT1M"}}
    created = fis.create_experiment_template(
        clientToken="t",
        description="processor faults",
        roleArn="arn:aws:iam::123456789012:role/fis",
        stopConditions=[{"source": "none"}],
        targets={
            "Functions": {"resourceType": "aws:lambda:function", "selectionMode": "ALL", "resourceArns": [FUNCTION]}
        },
        actions={"InvocationErrors": action, "AddedLatency": delay},
    )
    return str(created["experimentTemplate"]["id"])


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.on_sleep: list[Any] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        if self.on_sleep:
            self.on_sleep.pop(0)()


def _run(template_id: str, clock: Clock, *, records: int = 10, recovery: float = 60) -> ExperimentRun:
    boto3.client("kinesis").create_stream(StreamName="readings", ShardCount=1)
    readings = synthetic_records(records, run_id="smoke-fis", now=_now(), anomaly_share=0, invalid_share=0)
    return run_experiment(
        boto3.client("fis"),
        boto3.client("kinesis"),
        stream_name="readings",
        template_id=template_id,
        records=readings,
        watch=Watch(boto3.client("cloudwatch"), raised=[RAISED], composite=COMPOSITE),
        poll_seconds=30,
        recovery_seconds=recovery,
        clock=clock,
        sleep=clock.sleep,
        log=lambda _: None,
    )


def _now() -> Any:
    from datetime import datetime  # noqa: PLC0415 - only the readings need a time

    return datetime.fromisoformat(NOW)


def _set(alarm: str, state: str) -> Any:
    return lambda: boto3.client("cloudwatch").set_alarm_state(AlarmName=alarm, StateValue=state, StateReason="test")


# --- the experiment's run ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("iso", "seconds"), [("PT5M", 300), ("PT1H30M", 5400), ("PT90S", 90), ("PT1H", 3600)])
def test_fis_durations_are_read_in_seconds(iso: str, seconds: float) -> None:
    assert duration_seconds(iso) == seconds


@pytest.mark.parametrize("iso", ["PT", "5M", "P1D", "PT5m"])
def test_a_duration_that_is_not_hours_minutes_or_seconds_is_refused(iso: str) -> None:
    with pytest.raises(ValueError, match="not an ISO 8601 duration"):
        duration_seconds(iso)


def test_a_completed_experiment_gets_every_reading_and_remembers_the_raised_alarm(aws: list[str | None]) -> None:
    clock = Clock()
    clock.on_sleep = [_set(RAISED, "ALARM"), _set(RAISED, "OK")]
    run = _run(template(minutes=2), clock)  # 2 minutes, a look every 30 s: the readings in 4 chunks
    assert (run.status, run.recovered) == ("completed", True)  # moto: pending, initiating, running, completed
    assert len(run.sent) == 10
    assert run.seen_in_alarm == {RAISED}


def test_an_experiment_stopped_on_its_condition_is_reported_stopped(aws: list[str | None]) -> None:
    template_id = template()
    clock = Clock()

    def stop() -> None:
        fis = boto3.client("fis")
        (experiment,) = fis.list_experiments()["experiments"]
        fis.stop_experiment(id=experiment["id"])

    clock.on_sleep = [stop]
    run = _run(template_id, clock)
    assert run.status == "stopped"
    assert len(run.sent) == 10  # the readings not put while it ran are put after it


def test_a_stage_whose_composite_alarm_stays_in_alarm_has_not_recovered(aws: list[str | None]) -> None:
    _set(RAISED, "ALARM")()
    boto3.client("cloudwatch").set_alarm_state(AlarmName=COMPOSITE, StateValue="ALARM", StateReason="test")
    clock = Clock()
    run = _run(template(), clock, recovery=90)
    assert (run.recovered, run.composite_state) == (False, "ALARM")
    assert clock.now >= 90  # it waited the recovery time out


# --- the verdict ------------------------------------------------------------------------------------------------------


def _finished(**changes: Any) -> ExperimentRun:
    run = ExperimentRun(experiment_id="e", status="completed", seen_in_alarm={RAISED}, recovered=True)
    return dataclasses.replace(run, **changes)


def test_a_stage_that_held_passes() -> None:
    assert verdict(_finished(), landed=True, landing=Landing(), raised=[RAISED]) == (True, [])


@pytest.mark.parametrize(
    ("run", "landed", "problem"),
    [
        (_finished(status="stopped", reason="stop condition"), True, "the experiment ended stopped, not completed"),
        (_finished(status="failed", reason="no target"), True, "the experiment ended failed"),
        (_finished(), False, "readings were lost"),
        (_finished(seen_in_alarm=set()), True, f"never seen in ALARM while the faults lasted: {RAISED}"),
        (_finished(recovered=False, composite_state="ALARM"), True, "composite alarm is still ALARM"),
    ],
    ids=["stopped", "failed", "lost", "unwatched", "unrecovered"],
)
def test_each_way_a_stage_does_not_hold_fails_it_on_its_own(run: ExperimentRun, landed: bool, problem: str) -> None:
    held, problems = verdict(run, landed=landed, landing=Landing(), raised=[RAISED])
    assert not held
    (said,) = problems
    assert problem in said


def test_readings_in_the_failure_destination_are_kept_not_lost() -> None:
    landing = Landing(places={0: {"failure destination"}, 1: {"table"}})
    held, problems = verdict(_finished(), landed=True, landing=landing, raised=[RAISED])
    assert held
    assert problems == [
        "(not a failure) 1 readings are in the failure destination, kept there for a replay: "
        "python -m tools.operations.replay --from-failures"
    ]


# --- the command line -------------------------------------------------------------------------------------------------


@pytest.fixture
def stage(aws: list[str | None], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A stage on moto with its experiment; the readings put land, but for the indices in ``stage["lose"]``."""
    state = landing_stage(fault_injection, monkeypatch, role=ROLE)
    state["environment"] |= {
        "OBSERVABILITY_EXPERIMENTTEMPLATEID": template(minutes=1),
        "OBSERVABILITY_EXPERIMENTRAISEDALARMNAMES": RAISED,
        "OBSERVABILITY_COMPOSITEALARMNAME": COMPOSITE,
        "EXPERIMENT_RECOVERY_MINUTES": "1",
    }
    return state


FAST = ["--from-environment", "--records", "40", "--poll-seconds", "0.01", "--timeout", "0.5"]


def test_the_step_passes_when_the_experiment_completed_every_reading_landed_and_the_alarm_fired(
    stage: dict[str, Any], aws: list[str | None], capsys: pytest.CaptureFixture[str]
) -> None:
    _set(RAISED, "ALARM")()  # as the experiment's errors raise it
    assert main(FAST, environment=stage["environment"]) == 0
    out = capsys.readouterr().out
    assert f"{'records put':<28}{40:>8}" in out
    assert out.rstrip().endswith("completed and the stage held")
    assert aws == [ROLE]


def test_a_lost_reading_and_an_alarm_that_never_fired_fail_the_step_naming_both(
    stage: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    stage["lose"] = frozenset({0})  # the first reading of each put: with a look every 0.01 s, each put is one
    assert main(FAST, environment=stage["environment"]) == 1
    err = capsys.readouterr().err
    assert "readings were lost" in err
    assert f"never seen in ALARM while the faults lasted: {RAISED}" in err
    assert "FAULT INJECTION FAILED: see docs/runbooks.md#fault-injection-failed" in err


def test_a_stage_without_an_experiment_exits_2_before_anything_runs(
    stage: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    environment = {k: v for k, v in stage["environment"].items() if k != "OBSERVABILITY_EXPERIMENTTEMPLATEID"}
    assert main(FAST, environment=environment) == 2
    assert "the observability stack has no outputs ['ExperimentTemplateId']" in capsys.readouterr().err
    assert boto3.client("fis").list_experiments()["experiments"] == []


def test_the_pipelines_variables_need_the_smoke_test_role(
    aws: list[str | None], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--from-environment"], environment={})
    assert exit_info.value.code == 2
    assert "set INGEST_SMOKETESTROLEARN or pass --role-arn" in capsys.readouterr().err


def test_the_recovery_time_comes_from_the_pipeline_unless_given(
    stage: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[float] = []

    def spy(*args: Any, recovery_seconds: float, **kwargs: Any) -> Any:
        seen.append(recovery_seconds)
        raise AlarmNotFoundError("stop here")

    monkeypatch.setattr(fault_injection, "run_experiment", spy)
    assert main(FAST, environment=stage["environment"]) == 2
    assert main([*FAST, "--recovery-minutes", "2.5"], environment=stage["environment"]) == 2
    assert seen == [60.0, 150.0]


def test_the_help_is_what_docs_command_lines_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    assert printed_help(main, monkeypatch) == documented_help("tools.steps.fault_injection")


def test_a_listed_experiment_is_this_steps_alone(stage: dict[str, Any]) -> None:
    _set(RAISED, "ALARM")()
    main(FAST, environment=stage["environment"])
    (experiment,) = boto3.client("fis").list_experiments()["experiments"]
    assert experiment["experimentTemplateId"] == stage["environment"]["OBSERVABILITY_EXPERIMENTTEMPLATEID"]
    assert json.dumps(experiment["state"]["status"]) == '"completed"'
