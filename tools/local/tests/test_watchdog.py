"""The watchdog's rules: a part's own failure first, then a stall while progress is expected; how a process ended;
a thread group's threads that end on an error or before they are stopped."""

from __future__ import annotations

import signal
import threading

import pytest

from tools.local.watchdog import ComponentFailure, ThreadGroup, Watchdog, ended

DEAD = ComponentFailure(component="function worker 2 (pid 42)", how="was killed by signal 9 (SIGKILL)")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _watchdog(*, failures: list[ComponentFailure], progress: list[int], clock: Clock, stall: float = 10) -> Watchdog:
    return Watchdog(
        sources=[lambda: list(failures)],
        progress=lambda: progress[0],
        stall_seconds=stall,
        on_failure=lambda _: None,
        clock=clock,
    )


@pytest.mark.parametrize(
    ("returncode", "how"),
    [
        (0, "exited with code 0"),
        (1, "exited with code 1"),
        (-9, "was killed by signal 9 (SIGKILL)"),
        (-15, "was killed by signal 15 (SIGTERM)"),
        (-2, "was killed by signal 2 (SIGINT)"),
        (-99, "was killed by signal 99 (an unknown signal)"),
    ],
)
def test_how_a_process_ended_is_said_from_its_return_code(returncode: int, how: str) -> None:
    assert ended(returncode) == how


def test_a_parts_failure_is_reported_and_kept() -> None:
    failures: list[ComponentFailure] = []
    watchdog = _watchdog(failures=failures, progress=[0], clock=Clock())
    assert watchdog.check() is None
    failures.append(DEAD)
    assert watchdog.check() == DEAD
    failures.clear()  # the first failure stays, whatever the parts say later
    assert watchdog.check() == DEAD
    assert str(DEAD) == "function worker 2 (pid 42) was killed by signal 9 (SIGKILL)"


def test_no_progress_for_the_stall_time_is_a_stall_only_while_progress_is_expected() -> None:
    clock, progress = Clock(), [5]
    watchdog = _watchdog(failures=[], progress=progress, clock=clock, stall=10)
    clock.now += 60
    assert watchdog.check() is None  # nothing outstanding: an idle platform is fine
    watchdog.expect_progress(True)
    clock.now += 9.9
    assert watchdog.check() is None
    clock.now += 0.2
    failure = watchdog.check()
    assert failure is not None
    assert failure.component == "the data path"
    assert failure.how.startswith("made no progress for 10 s while readings were outstanding")


def test_progress_resets_the_stall_time() -> None:
    clock, progress = Clock(), [5]
    watchdog = _watchdog(failures=[], progress=progress, clock=clock, stall=10)
    watchdog.expect_progress(True)
    for step in range(5):
        clock.now += 8
        progress[0] += 1
        assert watchdog.check() is None, step
    clock.now += 9
    assert watchdog.check() is None
    clock.now += 2
    assert watchdog.check() is not None


def test_expecting_progress_again_starts_the_stall_time_anew() -> None:
    clock = Clock()
    watchdog = _watchdog(failures=[], progress=[0], clock=clock, stall=10)
    watchdog.expect_progress(True)
    clock.now += 8
    watchdog.expect_progress(False)
    clock.now += 100
    watchdog.expect_progress(True)
    clock.now += 8
    assert watchdog.check() is None


def test_a_parts_failure_comes_before_a_stall() -> None:
    clock = Clock()
    watchdog = _watchdog(failures=[DEAD], progress=[0], clock=clock, stall=1)
    watchdog.expect_progress(True)
    clock.now += 5
    assert watchdog.check() == DEAD


def test_the_watching_thread_hands_the_first_failure_over_once() -> None:
    handed: list[ComponentFailure] = []
    done = threading.Event()

    def on_failure(failure: ComponentFailure) -> None:
        handed.append(failure)
        done.set()

    watchdog = Watchdog(sources=[lambda: [DEAD]], progress=lambda: 0, stall_seconds=10, on_failure=on_failure)
    watchdog.start()
    assert done.wait(5)
    watchdog.stop()
    assert handed == [DEAD]


def test_a_thread_that_ends_on_an_error_or_unasked_is_a_failure_and_a_stopped_one_is_not() -> None:
    group = ThreadGroup("local Firehose")
    release = threading.Event()

    def crash() -> None:
        raise ConnectionRefusedError("[Errno 111] Connection refused")

    group.add("reader of shardId-000000000000", crash)
    group.add("buffer flush", lambda: None)
    group.add("reader of shardId-000000000001", release.wait)
    group.start()
    for _ in range(100):
        if len(group.failures()) == 2:
            break
        threading.Event().wait(0.01)
    release.set()
    group.stop()
    assert sorted(str(failure) for failure in group.failures()) == [
        "local Firehose: buffer flush stopped without being asked to",
        "local Firehose: reader of shardId-000000000000 stopped on ConnectionRefusedError: "
        "[Errno 111] Connection refused",
    ]


def test_signals_are_named() -> None:
    assert ended(-signal.SIGSEGV) == "was killed by signal 11 (SIGSEGV)"
