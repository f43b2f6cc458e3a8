"""The emulator: moto's server (emulator_server.py) in processes of its own, on loopback, for every boto3 client.

The stage is deployed into one process; ``split`` then gives each group of services that shares no state with the
others a copy of that process, deployed resources included, and points those services' clients at it
(``AWS_ENDPOINT_URL_<SERVICE>``, which boto3 and the deployed function's botocore both read). The emulator's
requests then run on every core, beside this process's loops (producer, event source mapping, Firehose, checks).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from tools.common.local_service import CREDENTIALS, endpoint_variable
from tools.local.watchdog import ComponentFailure, ended

LOCAL_ACCOUNT = "123456789012"  # moto's account: every ARN it returns carries it
LOCAL_REGION = "eu-west-1"
STOP_TIMEOUT_SECONDS = 10
SERVER = Path(__file__).with_name("emulator_server.py")
CALL_LOG_VARIABLE = "EMULATOR_CALL_LOG"  # emulator_server.py reads it
# Services whose state the others never read at run time, each group in a process of its own. SNS delivers to SQS
# inside moto, so those two share one. Everything else (CloudFormation, Lambda, IAM, KMS, ...) stays where the
# stage was deployed.
SERVICE_GROUPS: Mapping[str, Sequence[str]] = {
    "kinesis": ("kinesis",),
    "dynamodb": ("dynamodb",),
    "s3": ("s3",),
    "alerts": ("sns", "sqs"),
}


class EmulatorError(RuntimeError):
    pass


class PortInUseError(EmulatorError):
    """The port asked for is taken: by an earlier run's emulator, or by anything else."""


@dataclass
class Emulator:
    endpoint: str
    modelled_types: frozenset[str]  # the resource types moto's CloudFormation creates
    _server: subprocess.Popen[bytes]
    _log: IO[bytes]
    endpoints: dict[str, str] = field(default_factory=dict)  # service -> endpoint, for the services split off
    copies: dict[str, int] = field(default_factory=dict)  # group -> pid of its copy
    stop_at_once: bool = False  # set when a part failed: the server may be stuck, so it is killed, not asked
    _failures: list[ComponentFailure] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def pid(self) -> int:
        """The process the stage is deployed into (the copies split off are its children)."""
        return self._server.pid

    def split(self, groups: Mapping[str, Sequence[str]] = SERVICE_GROUPS) -> None:
        """Give each group of services its own copy of the emulator, with everything deployed so far."""
        for group, services in groups.items():
            copy = self._command({"fork": group, "services": list(services)})
            self.copies[group] = int(copy["pid"])
            for service in services:
                self.endpoints[service] = f"http://127.0.0.1:{copy['port']}"
                os.environ[endpoint_variable(service)] = self.endpoints[service]
        # From here on the server only says when one of its processes ended: read that as it comes.
        threading.Thread(target=self._watch, name="emulator watch", daemon=True).start()

    def kill_copies(self) -> None:
        """Once the server has stopped: a copy still there (frozen, say) cannot notice its parent is gone."""
        for pid in self.copies.values():
            if _is_emulator(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    def failures(self) -> list[ComponentFailure]:
        """The emulator's processes that ended while it ran: its copies, or the server itself."""
        with self._lock:
            return list(self._failures)

    def _watch(self) -> None:
        assert self._server.stdout is not None
        for line in self._server.stdout:
            event = json.loads(line)
            if "exited" in event:
                failure = ComponentFailure(
                    component=f"the emulator's {event['exited']} process (pid {event['pid']})",
                    how=ended(int(event["returncode"])),
                )
                with self._lock:
                    self._failures.append(failure)
        returncode = self._server.wait()
        if returncode != 0:  # it exits 0 only when told to stop
            with self._lock:
                self._failures.append(
                    ComponentFailure(component=f"moto's server (pid {self._server.pid})", how=ended(returncode))
                )

    def _command(self, command: dict[str, Any]) -> dict[str, Any]:
        assert self._server.stdin is not None
        self._server.stdin.write((json.dumps(command) + "\n").encode())
        self._server.stdin.flush()
        return _read_reply(self._server, self._log)


@contextmanager
def embedded_aws(
    region: str = LOCAL_REGION, *, port: int = 0, pid_file: Path | None = None, call_log: Path | None = None
) -> Iterator[Emulator]:
    """Start the emulator (on ``port``, or any free one); yield it; stop it (and every copy it split off) and restore
    the environment. ``pid_file`` records the server's process while it runs (see ``stop_stale``); ``call_log``
    receives every request's caller, action and resource, a JSON line each (the pipeline rehearsal's)."""
    # Its notes on resource types its CloudFormation skips would bury the run's output (tools/local/deploy.py deals
    # with those types on purpose): they go to a file, shown if it fails.
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen(  # noqa: S603 - this interpreter, our server script
            [sys.executable, str(SERVER), str(port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            env={
                **os.environ,
                "PYTHONWARNINGS": "ignore",
                **({CALL_LOG_VARIABLE: str(call_log)} if call_log else {}),
            },
        )
        touched = [endpoint_variable(s) for services in SERVICE_GROUPS.values() for s in services]
        previous = {name: os.environ.get(name) for name in [*CREDENTIALS, "AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION",
                                                            "AWS_REGION", *touched]}  # fmt: skip
        emulator: Emulator | None = None
        try:
            started = _read_reply(server, log)
            if "error" in started:
                error = PortInUseError if started.get("errno") == errno.EADDRINUSE else EmulatorError
                raise error(str(started["error"]))
            if pid_file is not None:
                pid_file.write_text(f"{server.pid} {os.getpid()}\n")  # the server, and the run it serves
            endpoint = f"http://127.0.0.1:{started['port']}"
            for name in touched:  # a split of an earlier run must not leak into this one
                os.environ.pop(name, None)
            os.environ.update(
                {**CREDENTIALS, "AWS_ENDPOINT_URL": endpoint, "AWS_DEFAULT_REGION": region, "AWS_REGION": region}
            )
            emulator = Emulator(
                endpoint=endpoint, modelled_types=frozenset(started["modelled_types"]), _server=server, _log=log
            )
            yield emulator
        finally:
            _restore(previous)
            _stop(server, at_once=emulator is not None and emulator.stop_at_once)
            if emulator is not None:
                emulator.kill_copies()
            if pid_file is not None:
                pid_file.unlink(missing_ok=True)


def stop_stale(pid_file: Path, *, grace_seconds: float = 5) -> int | None:
    """Stop the emulator an earlier run left behind (its server, recorded in ``pid_file``); the pid it had, if any.

    A server stops with its runner (its stdin closes), and its copies with it; one that is still there was wedged,
    or its runner killed before it could be told. Only a process that is our server script is stopped, and only once
    the run it served has ended: a run still going (another terminal, another test worker) keeps its emulator."""
    try:
        pid, *runner = (int(field) for field in pid_file.read_text().split())
    except (FileNotFoundError, ValueError):
        return None
    if runner and Path(f"/proc/{runner[0]}").exists():
        return None  # in use: its run records it until it stops it
    pid_file.unlink(missing_ok=True)
    if not _is_emulator(pid):
        return None  # gone already, or the pid now belongs to something else
    os.kill(pid, signal.SIGTERM)  # its copies see their parent gone and stop within a second
    deadline = time.monotonic() + grace_seconds
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    return pid


def _read_reply(server: subprocess.Popen[bytes], log: IO[bytes]) -> dict[str, Any]:
    assert server.stdout is not None
    line = server.stdout.readline()  # a reply, or nothing once the server has exited
    if not line:
        raise EmulatorError(f"moto's server exited with {server.poll()}: {_tail(log)}")
    reply: dict[str, Any] = json.loads(line)
    return reply


def _stop(server: subprocess.Popen[bytes], *, at_once: bool = False) -> None:
    if server.stdin is not None:
        server.stdin.close()  # the server stops its copies, then itself
    try:
        server.wait(timeout=0 if at_once else STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def _tail(log: IO[bytes], size: int = 2000) -> str:
    log.seek(0)
    return log.read().decode(errors="replace")[-size:]


def _restore(previous: dict[str, str | None]) -> None:
    for name, value in previous.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def _is_emulator(pid: int) -> bool:
    """Whether ``pid`` runs our server script (Linux: read from /proc); not a pid that has since been reused."""
    try:
        return SERVER.name.encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
