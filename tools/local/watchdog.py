"""Watches every part of the embedded platform while it runs: a part that dies, or a run that stops moving, is named
within a few seconds and stops the run, instead of leaving a person at a silent terminal.

Each part reports its own failures (``failures()``): a process that exited (with its code or signal), a thread that
ended with an error. While readings are outstanding the watchdog also expects progress; a run in which nothing is
read, settled or archived for ``stall_seconds`` has stalled. The first failure is kept and handed to ``on_failure``
(the runner interrupts its main thread with it).
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

CHECK_SECONDS = 0.5
STOP_SECONDS = 10.0


@dataclass(frozen=True, kw_only=True)
class ComponentFailure:
    component: str  # what failed: "function worker 2 (pid 4242)"
    how: str  # how: "was killed by signal 9 (SIGKILL)"

    def __str__(self) -> str:
        return f"{self.component} {self.how}"


def ended(returncode: int) -> str:
    """How a process ended, from its return code (negative: the signal that killed it)."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = "an unknown signal"
        return f"was killed by signal {-returncode} ({name})"
    return f"exited with code {returncode}"


class ThreadGroup:
    """The threads of one loop, started together; each one that ends before ``stopping`` is recorded as a failure,
    with the error it ended on."""

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self.stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._failures: list[ComponentFailure] = []
        self._lock = threading.Lock()

    def add(self, name: str, target: Callable[..., Any], *args: Any) -> None:
        def run() -> None:
            try:
                target(*args)
            except BaseException as error:
                self._record(name, f"stopped on {type(error).__name__}: {error}")
                return
            if not self.stopping.is_set():
                self._record(name, "stopped without being asked to")

        self._threads.append(threading.Thread(target=run, name=f"{self.owner}: {name}", daemon=True))

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self, *, timeout: float | None = None) -> None:
        """Ask every thread to end, and wait ``timeout`` seconds in all for them (default 10); a thread stuck in a
        request to a part that died is a daemon, and ends with the process."""
        self.stopping.set()
        deadline = time.monotonic() + (STOP_SECONDS if timeout is None else timeout)
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))

    def failures(self) -> list[ComponentFailure]:
        with self._lock:
            return list(self._failures)

    def _record(self, name: str, how: str) -> None:
        with self._lock:
            self._failures.append(ComponentFailure(component=f"{self.owner}: {name}", how=how))


class Watchdog:
    """Checks every ``CHECK_SECONDS`` from a thread of its own, once started; ``expect_progress`` arms the stall check
    while readings are outstanding."""

    def __init__(
        self,
        *,
        sources: Sequence[Callable[[], list[ComponentFailure]]],
        progress: Callable[[], Hashable],
        stall_seconds: float,
        on_failure: Callable[[ComponentFailure], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sources = sources
        self._progress = progress
        self._stall_seconds = stall_seconds
        self._on_failure = on_failure
        self._clock = clock
        self._expecting = False
        self._last_progress: Hashable = None
        self._last_moved = clock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="watchdog", daemon=True)
        self.failure: ComponentFailure | None = None

    def expect_progress(self, expecting: bool) -> None:
        self._expecting = expecting
        self._last_progress, self._last_moved = self._progress(), self._clock()

    def check(self) -> ComponentFailure | None:
        """The first failure a part reports, or a stall; kept once found."""
        if self.failure is None:
            self.failure = next((failure for source in self._sources for failure in source()), None)
        if self.failure is None and self._expecting:
            self.failure = self._stalled()
        return self.failure

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _stalled(self) -> ComponentFailure | None:
        now, progress = self._clock(), self._progress()
        if progress != self._last_progress:
            self._last_progress, self._last_moved = progress, now
            return None
        if now - self._last_moved < self._stall_seconds:
            return None
        return ComponentFailure(
            component="the data path",
            how=f"made no progress for {now - self._last_moved:.0f} s while readings were outstanding "
            "(nothing put, read, settled or archived)",
        )

    def _watch(self) -> None:
        while not self._stop.wait(CHECK_SECONDS):
            failure = self.check()
            if failure is not None:
                self._on_failure(failure)
                return
