"""moto's server in a process of its own: an AWS endpoint on loopback that every boto3 client of this run uses.

Its own process, so the emulator and this process's loops (producer, event source mapping, Firehose, checks)
each get a core instead of sharing one interpreter's lock.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

LOCAL_ACCOUNT = "123456789012"  # moto's account: every ARN it returns carries it
LOCAL_REGION = "eu-west-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_SESSION_TOKEN": "local"}
STARTUP_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 10


class EmulatorError(RuntimeError):
    pass


@contextmanager
def embedded_aws(region: str = LOCAL_REGION) -> Iterator[str]:
    """Start the emulator on a free loopback port; yield its endpoint URL; stop it and restore the environment."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Its request log and its notes on resource types its CloudFormation skips would bury the run's output
    # (tools/local/deploy.py deals with those types on purpose): they go to a file, shown if it fails to start.
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen(  # noqa: S603 - this interpreter, fixed arguments
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
        try:
            _wait_until_listening(server, port, log)
            endpoint = f"http://127.0.0.1:{port}"
            settings = {**CREDENTIALS, "AWS_ENDPOINT_URL": endpoint, "AWS_DEFAULT_REGION": region, "AWS_REGION": region}
            with _environment(settings):
                yield endpoint
        finally:
            server.terminate()
            try:
                server.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def _wait_until_listening(server: subprocess.Popen[bytes], port: int, log: IO[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise EmulatorError(f"moto's server exited with {server.returncode}: {_tail(log)}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise EmulatorError(f"moto's server did not listen on port {port} within {STARTUP_TIMEOUT_SECONDS} s")


def _tail(log: IO[bytes], size: int = 2000) -> str:
    log.seek(0)
    return log.read().decode(errors="replace")[-size:]


@contextmanager
def _environment(settings: dict[str, str]) -> Iterator[None]:
    previous = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
