"""The deployed function in worker processes: what an invocation returns, a worker that dies named with how, workers
that do not end when told, killed; and a fault injection experiment's actions, drawn per invocation and applied."""

from __future__ import annotations

import io
import random
import signal
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path

import boto3
import pytest

from shared.fault_injection import FaultAction, FaultInjectionConfig, experiment_actions
from tools.local.function import InjectedFault, InvocationFaults, LocalFunction, unpacked
from tools.local.lambda_worker import INJECTED_ERROR, NO_FAULT
from tools.local.tests.emulated import REGION, emulated_account

HANDLER = b"""
import time

def handle(event, context):
    print("handled", event.get("mark"))  # to the function's log: the handler ran
    if event.get("sleep"):
        time.sleep(60)
    return {"records": len(event.get("Records", [])), "function": context.function_name}
"""


def _code() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", HANDLER)
    return buffer.getvalue()


@pytest.fixture
def function(tmp_path: Path) -> Iterator[LocalFunction]:
    with emulated_account():
        iam = boto3.client("iam")
        role = iam.create_role(RoleName="processor", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        boto3.client("lambda", region_name=REGION).create_function(
            FunctionName="processor",
            Runtime="python3.12",
            Role=role,
            Handler="handler.handle",
            Code={"ZipFile": _code()},
            Environment={"Variables": {"TABLE_NAME": "readings"}},
        )
        with (tmp_path / "function.log").open("w") as log:
            local = LocalFunction(function_name="processor", code=_code(), concurrency=2, log=log)
            yield local
            local.close(timeout=2)


def handled(function: LocalFunction, mark: str) -> bool:
    function.close(timeout=2)  # its workers' output is all in the log once they have ended
    function._log.flush()
    return f"handled {mark}" in Path(function._log.name).read_text()


def test_an_invocation_runs_the_deployed_handler_and_returns_its_answer(function: LocalFunction) -> None:
    result = function.invoke({"Records": [{}, {}, {}]})
    assert (result.response, result.error) == ({"records": 3, "function": "processor"}, None)
    assert function.failures() == []


def test_a_worker_that_dies_is_named_with_how_and_an_invocation_on_it_says_so(function: LocalFunction) -> None:
    worker = function._workers[0]
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    assert [str(failure) for failure in function.failures()] == [
        f"function worker 1 (pid {worker.pid}) was killed by signal 9 (SIGKILL)"
    ]
    errors = []
    for _ in range(2):  # one of the two invocations lands on the dead worker
        try:
            function.invoke({"Records": []})
        except RuntimeError as error:
            errors.append(str(error))
    assert errors == ["worker of processor exited with -9"]


def test_a_closed_function_reports_no_failures(function: LocalFunction) -> None:
    function.close(timeout=2)
    assert function.failures() == []


def test_a_worker_busy_when_told_to_end_is_killed_after_the_timeout(function: LocalFunction) -> None:
    ended: list[str] = []

    def invoke_and_record() -> None:
        try:
            function.invoke({"sleep": True})
        except RuntimeError as error:
            ended.append(str(error))

    invocation = threading.Thread(target=invoke_and_record, daemon=True)
    invocation.start()
    time.sleep(1)  # the invocation has started: its worker sleeps for a minute
    started = time.monotonic()
    function.close(timeout=1)
    assert time.monotonic() - started < 10
    assert all(worker.poll() is not None for worker in function._workers)
    invocation.join(timeout=5)
    assert ended == ["worker of processor exited with -9"]


def test_code_is_unpacked_once_per_content(tmp_path: Path) -> None:
    first = unpacked(_code(), root=tmp_path)
    assert (first / "handler.py").read_bytes() == HANDLER
    assert unpacked(_code(), root=tmp_path) == first


# --- a fault injection experiment's actions --------------------------------------------------------------------------

STAGING_LIKE = FaultInjectionConfig(
    duration_minutes=5, invocation_error_percent=10, added_latency_milliseconds=2000, added_latency_percent=20
)


def test_the_experiments_actions_become_the_faults_the_workers_apply() -> None:
    faults = InvocationFaults.of(experiment_actions(STAGING_LIKE), seed=3)
    assert faults == InvocationFaults(
        error_percent=10, prevent_execution=True, delay_milliseconds=2000, delay_percent=20, seed=3
    )


def test_an_action_the_workers_cannot_apply_is_refused_with_its_name() -> None:
    actions = {
        **experiment_actions(STAGING_LIKE),
        "CpuStress": FaultAction(action_id="aws:ssm:send-command", parameters={"duration": "PT5M"}),
    }
    with pytest.raises(ValueError, match=r"cannot apply the experiment's action CpuStress \(aws:ssm:send-command\)"):
        InvocationFaults.of(actions)


WITH: dict[str, Callable[[int], InvocationFaults]] = {
    "error_percent": lambda value: InvocationFaults(error_percent=value),
    "delay_percent": lambda value: InvocationFaults(delay_percent=value),
    "delay_milliseconds": lambda value: InvocationFaults(delay_milliseconds=value),
}


@pytest.mark.parametrize(
    ("field", "value"),
    [("error_percent", 101), ("error_percent", -1), ("delay_percent", 101), ("delay_percent", -1),
     ("delay_milliseconds", -1)],
)  # fmt: skip
def test_shares_outside_0_to_100_and_a_negative_delay_are_refused_by_name(field: str, value: int) -> None:
    with pytest.raises(ValueError, match=f"{field} must be"):
        WITH[field](value)


@pytest.mark.parametrize(("field", "value"), [("error_percent", 0), ("error_percent", 100), ("delay_percent", 0),
                                              ("delay_percent", 100), ("delay_milliseconds", 0)])  # fmt: skip
def test_the_bounds_are_accepted(field: str, value: int) -> None:
    assert getattr(WITH[field](value), field) == value


def test_a_share_of_0_never_and_of_100_always_applies_whatever_the_draw() -> None:
    never = InvocationFaults(error_percent=0, delay_percent=0, delay_milliseconds=500)
    always = InvocationFaults(error_percent=100, delay_percent=100, delay_milliseconds=500)
    for draw in (0.0, 0.5, 0.999999):
        assert never.drawn(lambda: draw) == InjectedFault()  # noqa: B023 - called at once
        assert always.drawn(lambda: draw) == InjectedFault(  # noqa: B023 - called at once
            delay_seconds=0.5, fails=True, runs_handler=False
        )


def test_a_share_applies_to_the_draws_below_it_and_to_none_at_or_above() -> None:
    faults = InvocationFaults(error_percent=10, delay_percent=20, delay_milliseconds=2000)
    draws = iter([0.19, 0.099, 0.2, 0.1])  # per invocation: the delay's draw, then the error's
    assert faults.drawn(lambda: next(draws)) == InjectedFault(delay_seconds=2.0, fails=True, runs_handler=False)
    assert faults.drawn(lambda: next(draws)) == InjectedFault()


def test_a_failure_the_experiment_does_not_prevent_still_runs_the_handler() -> None:
    faults = InvocationFaults(error_percent=100, prevent_execution=False)
    assert faults.drawn(lambda: 0.5) == InjectedFault(fails=True, runs_handler=True)
    delay_only = InvocationFaults.of({"AddedLatency": experiment_actions(STAGING_LIKE)["AddedLatency"]})
    assert (delay_only.error_percent, delay_only.delay_milliseconds) == (0, 2000)
    assert delay_only.drawn(lambda: 0.0).runs_handler


def test_the_workers_no_fault_is_the_functions_default_fault() -> None:
    assert asdict(InjectedFault()) == NO_FAULT  # the worker takes the standard library only: the two kept in step


def test_an_invocation_the_experiment_fails_and_prevents_runs_no_handler(function: LocalFunction) -> None:
    function.experiment = InvocationFaults(error_percent=100)
    result = function.invoke({"Records": [], "mark": "prevented"})
    assert (result.response, result.error) == (None, INJECTED_ERROR)
    assert not handled(function, "prevented")


def test_an_invocation_the_experiment_fails_without_preventing_runs_the_handler_and_fails(
    function: LocalFunction,
) -> None:
    function.experiment = InvocationFaults(error_percent=100, prevent_execution=False)
    result = function.invoke({"Records": [], "mark": "not-prevented"})
    assert (result.response, result.error) == (None, INJECTED_ERROR)
    assert handled(function, "not-prevented")


def test_an_experiment_of_0_percent_and_an_ended_experiment_let_every_invocation_through(
    function: LocalFunction,
) -> None:
    function.experiment = InvocationFaults(error_percent=0, delay_percent=0)
    assert function.invoke({"Records": []}).error is None
    function.experiment = InvocationFaults(error_percent=100)
    assert function.invoke({"Records": []}).error == INJECTED_ERROR
    function.experiment = None
    assert function.invoke({"Records": []}).error is None


def test_an_experiments_draws_are_reproducible_from_its_seed(function: LocalFunction) -> None:
    def failed(seed: int) -> list[bool]:
        function.experiment = InvocationFaults(error_percent=50, seed=seed)
        return [function.invoke({"Records": []}).error is not None for _ in range(20)]

    first = failed(11)
    assert failed(11) == first
    assert failed(12) != first
    draws = random.Random(11)  # the function draws in the order invocations start: one at a time here
    assert first == [InvocationFaults(error_percent=50).drawn(draws.random).fails for _ in range(20)]
