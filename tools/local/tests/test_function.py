"""The deployed function in worker processes: what an invocation returns, a worker that dies named with how, and
workers that do not end when told, killed."""

from __future__ import annotations

import io
import signal
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from tools.local.function import LocalFunction, unpacked
from tools.local.tests.emulated import REGION, emulated_account

HANDLER = b"""
import time

def handle(event, context):
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
