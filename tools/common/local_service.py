"""How a tool works on the local platform that ``python -m tools.local.run --serve FILE`` keeps up after its round.

The run writes FILE (JSON) once its round passed: the emulator's endpoints (its own, and that of each service split
off to a copy of its own) and the local stage's stack outputs. A tool points its AWS clients there
(``LocalService.environment``) and asks the run, one JSON line on the run's stdin each, to settle:
``{"settle": {"<shard id>": <sequence number>, ...}}`` is answered on the run's stdout with ``{"settled": <seconds>}``
once the event source mapping and the Firehose have read past every position and the Firehose has delivered what it
held. Closing the run's stdin stops it. ``LocalRun`` is that tool's side: it starts the run and speaks for it.

Tools that change nothing but need what a local run left on disk use tools/common/local_archive.py instead.
"""

from __future__ import annotations

import contextlib
import json
import queue
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

# Every client of the emulator signs with these: moto accepts any, and none may reach a real account.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_SESSION_TOKEN": "local"}
SETTLE, SETTLED = "settle", "settled"
READY_TIMEOUT_SECONDS = 600  # a first run synthesizes the stage: minutes on a busy machine
SETTLE_REPLY_TIMEOUT_SECONDS = 600


def endpoint_variable(service: str) -> str:
    """``AWS_ENDPOINT_URL_DYNAMODB``: where boto3 (and the deployed function's botocore) send one service's calls."""
    return f"AWS_ENDPOINT_URL_{service.upper()}"


@dataclass(frozen=True, kw_only=True)
class LocalService:
    endpoint: str  # the emulator the stage was deployed into: every service not split off
    endpoints: Mapping[str, str]  # service -> the copy of the emulator that serves it
    region: str
    outputs: Mapping[str, Mapping[str, str]]  # service (ingest, archive, ...) -> its stack's outputs

    def environment(self) -> dict[str, str]:
        """The variables that point boto3 at the local platform."""
        return {
            **CREDENTIALS,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            **{endpoint_variable(service): url for service, url in self.endpoints.items()},
        }

    def write(self, path: Path) -> None:
        staging = path.with_name(f".{path.name}.tmp")
        staging.write_text(json.dumps(self.__dict__, default=dict, indent=1), encoding="utf-8")
        staging.rename(path)  # whole or not at all: a reader never sees half a file

    @classmethod
    def read(cls, path: Path) -> LocalService:
        document = json.loads(path.read_text(encoding="utf-8"))
        return cls(**document)


class LocalRunError(RuntimeError):
    """The local run ended before it served, or stopped answering."""


class LocalRun:
    """``python -m tools.local.run <arguments> --serve`` in a process of its own, until ``close``. What it prints
    (its round's report) goes to ``echo`` (stdout) as it comes; its requests and replies stay between the two."""

    def __init__(
        self,
        arguments: Sequence[str],
        *,
        echo: IO[str] | None = None,
        ready_timeout: float = READY_TIMEOUT_SECONDS,
        module: str = "tools.local.run",
    ) -> None:
        self._echo = echo or sys.stdout  # as it is now: a caller may have redirected it
        self._directory = tempfile.TemporaryDirectory(prefix="local-run-")
        served = Path(self._directory.name) / "service.json"
        self._process = subprocess.Popen(  # noqa: S603 - this interpreter, our own module
            [sys.executable, "-m", module, *arguments, "--serve", str(served)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._replies: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read_output, name="local run output", daemon=True)
        self._reader.start()
        deadline = time.monotonic() + ready_timeout
        while not served.exists():
            if self._process.poll() is not None:
                self._reader.join(timeout=10)
                raise LocalRunError(f"the local run ended with code {self._process.returncode} before it served")
            if time.monotonic() > deadline:
                self.close()
                raise LocalRunError(f"the local run did not serve within {ready_timeout:.0f} s")
            time.sleep(0.2)
        self.service = LocalService.read(served)

    def settle(self, through: Mapping[str, int]) -> float:
        """Wait until the local platform has processed and archived everything up to ``through`` (shard -> sequence
        number); the seconds the run took."""
        assert self._process.stdin is not None
        self._process.stdin.write(json.dumps({SETTLE: {shard: str(n) for shard, n in through.items()}}) + "\n")
        self._process.stdin.flush()
        try:
            reply = self._replies.get(timeout=SETTLE_REPLY_TIMEOUT_SECONDS)
        except queue.Empty:
            raise LocalRunError(f"the local run did not settle within {SETTLE_REPLY_TIMEOUT_SECONDS} s") from None
        if reply is None:
            raise LocalRunError(f"the local run ended with code {self._process.wait()} while it was settling")
        return float(reply[SETTLED])

    def close(self) -> int:
        """Stop the run (its stdin closes, it stops every part) and return its exit code."""
        if self._process.stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                self._process.stdin.close()
        try:
            code = self._process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self._process.kill()
            code = self._process.wait()
        self._reader.join(timeout=10)
        self._directory.cleanup()
        return code

    def __enter__(self) -> LocalRun:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def _read_output(self) -> None:
        """The run's replies to the queue, everything else it prints to ``echo``; None once it has ended."""
        assert self._process.stdout is not None
        for line in self._process.stdout:
            if line.startswith("{") and f'"{SETTLED}"' in line:
                self._replies.put(json.loads(line))
            else:
                self._echo.write(line)
                self._echo.flush()
        self._replies.put(None)
