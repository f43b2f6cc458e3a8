"""make chaos's parts: the fault kinds from a stage's experiment and what each switches, the verdict on a fault
kind, the latency figures and the command line's refusals. tests/test_chaos.py runs it end to end."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any, cast

import pytest

from shared.fault_injection import FaultAction, FaultInjectionConfig, experiment_actions
from tools.alarms.definitions import State
from tools.local.chaos import (
    ALARM_WAIT_SECONDS,
    FAULT_KINDS,
    Chaos,
    FaultKind,
    FaultOutcome,
    Phase,
    fault_kinds,
    main,
)
from tools.local.function import InvocationFaults
from tools.local.run import EXIT_UNUSABLE, Latency, LocalPlatform

OK, ALARM = State.OK, State.ALARM
ACTIONS = experiment_actions(
    FaultInjectionConfig(
        duration_minutes=5, invocation_error_percent=10, added_latency_milliseconds=2000, added_latency_percent=20
    )
)


def kinds() -> dict[str, FaultKind]:
    return fault_kinds(ACTIONS, seed=5, fault_seconds=8, stalled_seconds=30)


def fake_platform() -> Any:
    return SimpleNamespace(
        function=SimpleNamespace(experiment=None, table_throttling=threading.Event()),
        mapping=SimpleNamespace(stalled=threading.Event()),
        alarms=SimpleNamespace(evaluator=SimpleNamespace(names=["iot-sandbox-processor-errors"])),
    )


def switches(platform: Any) -> tuple[object, bool, bool]:
    return platform.function.experiment, platform.function.table_throttling.is_set(), platform.mapping.stalled.is_set()


def test_every_fault_kind_is_built_and_each_lasts_its_configured_time() -> None:
    built = kinds()
    assert tuple(built) == FAULT_KINDS
    assert {name: kind.seconds for name, kind in built.items()} == {
        "invocation-errors": 8,
        "table-throttling": 8,
        "stalled-consumer": 30,
    }
    assert [kind.seen_while_on for kind in built.values()] == [True, True, False]


@pytest.mark.parametrize(
    ("name", "on"),
    [
        ("invocation-errors", (InvocationFaults.of(ACTIONS, seed=5), False, False)),
        ("table-throttling", (None, True, False)),
        ("stalled-consumer", (None, False, True)),
    ],
)
def test_each_fault_kind_switches_its_own_fault_on_and_off_and_nothing_else(
    name: str, on: tuple[object, bool, bool]
) -> None:
    platform = fake_platform()
    kind = kinds()[name]
    kind.start(platform)
    assert switches(platform) == on
    kind.stop(platform)
    assert switches(platform) == (None, False, False)


def test_the_invocation_errors_are_the_stages_experiment_at_its_shares() -> None:
    kind = kinds()["invocation-errors"]
    assert kind.description == "the experiment: 10 % of invocations fail without running, 20 % start 2,000 ms late"
    assert kind.symptoms == ("processor-errors", "data-path-unhealthy")


def test_an_experiment_with_an_action_the_workers_cannot_apply_is_refused_with_its_name() -> None:
    actions = {**ACTIONS, "Reboot": FaultAction(action_id="aws:ec2:reboot-instances", parameters={})}
    with pytest.raises(ValueError, match="Reboot"):
        fault_kinds(actions, seed=0, fault_seconds=1, stalled_seconds=1)


def test_an_alarm_the_local_stage_does_not_have_is_refused_with_the_ones_it_has() -> None:
    chaos = Chaos(cast(LocalPlatform, fake_platform()), rate=10, phase_seconds=1, seed=0)
    assert chaos.alarm("processor-errors") == "iot-sandbox-processor-errors"
    with pytest.raises(ValueError, match="no alarm iot-sandbox-table-write-throttles; it has iot-sandbox-processor"):
        chaos.alarm("table-write-throttles")


# --- the verdict on one fault kind ------------------------------------------------------------------------------------


def phase(name: str, *, ok: bool = True) -> Phase:
    return Phase(name=name, readings=10, ok=ok, summary="checks", to_failure_destination=0, latency=None)


def outcome(**changes: Any) -> FaultOutcome:
    held = FaultOutcome(
        kind=kinds()["table-throttling"],
        phases=[phase("before"), phase("during"), phase("after")],
        changes={"iot-sandbox-table-write-throttles": [ALARM, OK], "iot-sandbox-data-path-unhealthy": [ALARM, OK]},
        healthy_before=True,
        recovered=True,
    )
    for name, value in changes.items():
        setattr(held, name, value)
    return held


def test_a_fault_kind_that_held_has_no_problem() -> None:
    assert outcome().problems() == []
    flickered = {
        "iot-sandbox-table-write-throttles": [ALARM, OK, ALARM, OK],
        "iot-sandbox-data-path-unhealthy": [ALARM, OK],
    }
    assert outcome(changes=flickered).problems() == []


def test_a_reading_that_did_not_land_fails_the_phase_it_was_put_in() -> None:
    problems = outcome(phases=[phase("before"), phase("during", ok=False), phase("after")]).problems()
    assert problems == ["during: a reading did not land where it belongs"]


def test_a_reading_stored_twice_fails() -> None:
    assert outcome(duplicated={"r-1": 2}).problems() == ["1 reading(s) stored more than once, e.g. r-1"]


def test_an_alarm_that_never_fired_or_did_not_come_back_fails_named() -> None:
    silent = {"iot-sandbox-table-write-throttles": [], "iot-sandbox-data-path-unhealthy": [ALARM, OK]}
    assert outcome(changes=silent).problems() == [
        "iot-sandbox-table-write-throttles never went to ALARM during the fault"
    ]
    stuck = {"iot-sandbox-table-write-throttles": [ALARM, OK], "iot-sandbox-data-path-unhealthy": [ALARM]}
    assert outcome(changes=stuck).problems() == [
        "iot-sandbox-data-path-unhealthy did not come back to OK after the fault"
    ]


def test_alarms_not_all_ok_before_or_after_the_fault_fail() -> None:
    assert outcome(healthy_before=False).problems() == [
        f"not every alarm was OK within {ALARM_WAIT_SECONDS:.0f} s before the fault"
    ]
    assert outcome(recovered=False).problems() == [
        f"not every alarm was OK within {ALARM_WAIT_SECONDS:.0f} s of the fault's end"
    ]


# --- figures and the command line -------------------------------------------------------------------------------------


def test_latency_is_the_median_and_the_99th_percentile_and_none_without_readings() -> None:
    assert Latency.of([]) is None
    assert Latency.of([0.3]) == Latency(p50=0.3, p99=0.3)
    assert Latency.of([float(n) for n in range(100, 0, -1)]) == Latency(p50=50.5, p99=100.0)
    assert Latency.of([1.0] * 98 + [7.0, 9.0]) == Latency(p50=1.0, p99=9.0)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--stage", "dev"], "--stage dev: it has no faultInjection experiment in cdk.json"),
        (["--stage", "nowhere"], "--stage nowhere:"),
        (["--faults", "invocation-errors,disk-full"], "unknown fault kind(s) disk-full: choose from invocation-errors"),
        (["--faults", ","], "unknown fault kind(s) (none given)"),
        (["--rate", "0"], "--rate"),
    ],
)
def test_bad_arguments_are_refused_before_the_platform_starts(
    arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as refused:
        main(arguments)
    assert refused.value.code == EXIT_UNUSABLE
    assert message in capsys.readouterr().err
