"""The main job fails loudly: a part of the platform killed mid-run, or Ctrl-C, stops the run within seconds with the
part named, an exit code that says so, and no process left behind.

Each test starts ``python -m tools.local.run`` as a person would, waits for the readings to flow, then kills one of
its processes (found under the runner in /proc) or interrupts it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from shared.repository import REPO_ROOT
from shared.synthetic.readings import synthetic_records
from tools.local.run import EXIT_INTERRUPTED, EXIT_PLATFORM_FAILED, PlatformError, local_platform

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]
DETECTED_WITHIN_SECONDS = 20  # from the kill to the runner's exit, on a busy two-core machine


class Run:
    """The main job in a process of its own, its output collected as it comes."""

    def __init__(self, tmp_path: Path, *arguments: str) -> None:
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tools.local.run", "--log", str(tmp_path / "run.log"), *arguments],
            cwd=REPO_ROOT,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._collect, daemon=True).start()

    def _collect(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, prefix: str, *, seconds: float = 180) -> None:
        deadline = time.monotonic() + seconds
        while not any(line.startswith(prefix) for line in self.lines):
            assert self.process.poll() is None, "\n".join(self.lines)
            assert time.monotonic() < deadline, f"no line starting {prefix!r} within {seconds} s:\n" + "\n".join(
                self.lines
            )
            time.sleep(0.1)

    @property
    def output(self) -> str:
        return "\n".join(self.lines)


def descendants(pid: int) -> dict[int, str]:
    """Every process under ``pid``, with its command line."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found: dict[int, str] = {}
    pending = list(children.get(pid, []))
    while pending:
        child = pending.pop()
        try:
            found[child] = (Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")).decode()
        except OSError:
            continue
        pending.extend(children.get(child, []))
    return found


def alive(pids: list[int]) -> list[int]:
    def running(pid: int) -> bool:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return False
        return state != "Z"

    return [pid for pid in pids if running(pid)]


@pytest.fixture
def run(tmp_path: Path) -> Iterator[Any]:
    runs: list[Run] = []

    def start(*arguments: str) -> Run:
        runs.append(Run(tmp_path, *arguments))
        return runs[-1]

    yield start
    for started in runs:
        if started.process.poll() is None:
            started.process.kill()
            started.process.wait()


def _exits_soon_leaving_nothing(run: Run, processes: dict[int, str], *, since: float) -> int:
    returncode = run.process.wait(timeout=DETECTED_WITHIN_SECONDS + 30)
    assert time.monotonic() - since < DETECTED_WITHIN_SECONDS, run.output
    deadline = time.monotonic() + 5  # the emulator's copies notice their parent gone within a second
    while alive(list(processes)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert alive(list(processes)) == [], {pid: processes[pid] for pid in alive(list(processes))}
    return returncode


def test_an_emulator_process_killed_mid_run_stops_the_run_naming_it(run: Any) -> None:
    started = run("--records", "40000", "--rate", "4000")
    started.wait_for("deployed ")
    time.sleep(2)  # readings flowing
    processes = descendants(started.process.pid)
    servers = [pid for pid, command in processes.items() if "emulator_server.py" in command]
    copy = max(servers)  # forked after the server: the highest pid
    os.kill(copy, signal.SIGKILL)
    killed_at = time.monotonic()
    assert _exits_soon_leaving_nothing(started, processes, since=killed_at) == EXIT_PLATFORM_FAILED
    assert f"process (pid {copy}) was killed by signal 9 (SIGKILL); the run stopped" in started.output
    assert "where this round's readings were:" in started.output


def test_a_function_worker_killed_mid_run_stops_the_run_naming_it(run: Any) -> None:
    started = run("--records", "40000", "--rate", "4000")
    started.wait_for("deployed ")
    time.sleep(3)
    processes = descendants(started.process.pid)
    worker = min(pid for pid, command in processes.items() if "lambda_worker.py" in command)
    os.kill(worker, signal.SIGKILL)
    killed_at = time.monotonic()
    assert _exits_soon_leaving_nothing(started, processes, since=killed_at) == EXIT_PLATFORM_FAILED
    assert f"(pid {worker}) was killed by signal 9 (SIGKILL); the run stopped" in started.output
    assert "error: function worker " in started.output
    assert "by the event source mapping (" in started.output


def test_a_stalled_emulator_process_is_a_stall_named_within_the_stall_time(run: Any) -> None:
    started = run("--records", "40000", "--rate", "4000", "--stall-seconds", "4")
    started.wait_for("deployed ")
    time.sleep(2)
    processes = descendants(started.process.pid)
    for pid, command in processes.items():
        if "emulator_server.py" in command:
            os.kill(pid, signal.SIGSTOP)  # every emulator process frozen: nothing can move
    stopped_at = time.monotonic()
    try:
        assert _exits_soon_leaving_nothing(started, processes, since=stopped_at) == EXIT_PLATFORM_FAILED
    finally:
        for pid in alive(list(processes)):
            os.kill(pid, signal.SIGKILL)
    assert "error: the data path made no progress for " in started.output


def test_ctrl_c_mid_run_stops_within_seconds_with_the_results_so_far(run: Any) -> None:
    started = run("--records", "40000", "--rate", "4000")
    started.wait_for("deployed ")
    time.sleep(2)
    processes = descendants(started.process.pid)
    started.process.send_signal(signal.SIGINT)
    interrupted_at = time.monotonic()
    assert _exits_soon_leaving_nothing(started, processes, since=interrupted_at) == EXIT_INTERRUPTED
    assert "interrupted after 0 complete round(s); the round under way had got this far:" in started.output
    assert "Traceback" not in started.output


def test_a_failing_firehose_loop_stops_the_run_naming_its_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tools.local.firehose import LocalFirehose  # noqa: PLC0415 - patched below, for this test only

    def broken(self: LocalFirehose, records: list[Any]) -> None:
        raise ConnectionResetError("[Errno 104] Connection reset by peer")

    monkeypatch.setattr(LocalFirehose, "_accept_all", broken)
    records = synthetic_records(500, run_id="firehose-fails", now=datetime.now(UTC), anomaly_share=0, invalid_share=0)
    with (
        local_platform(
            log_path=tmp_path / "run.log",
            assembly_dir=tmp_path / "cdk.out",
            overrides={"iot.stages.dev.archive.bufferIntervalSeconds": "60"},
        ) as platform,
        pytest.raises(PlatformError) as error,
    ):
        platform.run(records, progress=False)
    assert str(error.value).startswith("local Firehose: reader of shardId-")
    assert str(error.value).endswith("stopped on ConnectionResetError: [Errno 104] Connection reset by peer")
    assert error.value.whereabouts is not None
    assert error.value.whereabouts.put == 500
