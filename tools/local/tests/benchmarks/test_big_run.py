"""The big-run benchmark's sampling: a process tree found through /proc, each process's kind, peaks kept."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from tools.local.benchmarks.big_run import Peaks, kind_of, process_tree, resident_mb

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="reads /proc: Linux only")


@pytest.fixture
def children() -> Iterator[list[subprocess.Popen[bytes]]]:
    """A child that is a function worker by its command line, with a grandchild of its own."""
    sleeper = "import time; time.sleep(30)"
    script = f"import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', {sleeper!r}]); time.sleep(30)"
    worker = subprocess.Popen([sys.executable, "-c", script, "lambda_worker"])
    try:
        for _ in range(200):  # until the grandchild exists
            if len(list(process_tree(worker.pid))) == 2:
                break
            time.sleep(0.05)
        yield [worker]
    finally:
        for pid in reversed(list(process_tree(worker.pid))):
            os.kill(pid, 9)
        worker.wait()


def test_the_tree_holds_every_descendant_with_its_kind(children: list[subprocess.Popen[bytes]]) -> None:
    (worker,) = children
    tree = list(process_tree(os.getpid()))
    assert worker.pid in tree
    grandchildren = [pid for pid in process_tree(worker.pid) if pid != worker.pid]
    assert len(grandchildren) == 1
    assert grandchildren[0] in tree
    assert kind_of(os.getpid(), os.getpid()) == "runner"
    assert kind_of(worker.pid, os.getpid()) == "function worker"
    assert kind_of(grandchildren[0], os.getpid()) == "other"


def test_peaks_keep_the_largest_sample_of_each_process_and_of_their_sum(
    children: list[subprocess.Popen[bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    (worker,) = children
    pids = list(process_tree(worker.pid))
    samples: list[dict[int, float | None]] = [
        {pids[0]: 10.0, pids[1]: 5.0},
        {pids[0]: 30.0, pids[1]: 1.0},
        {pids[0]: 20.0, pids[1]: None},  # the second one gone
    ]
    sampling = iter(samples)
    peaks = Peaks()
    for sample in sampling:
        monkeypatch.setattr("tools.local.benchmarks.big_run.resident_mb", sample.get)
        peaks.sample(worker.pid)
    assert peaks.by_process == {pids[0]: ("runner", 30.0), pids[1]: ("other", 5.0)}
    assert peaks.total_mb == 31.0  # the largest sum of one sampling, not the sum of the peaks (35)
    assert peaks.rows() == [("other", 1, 5.0, 5.0), ("runner", 1, 30.0, 30.0)]


def test_a_process_that_is_gone_has_no_memory() -> None:
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    assert resident_mb(finished.pid) is None
    assert (resident_mb(os.getpid()) or 0) > 1
