"""The processor as deployed: its code is downloaded from the emulator and run in clean worker processes.

Each worker's output (the function's logs) goes to the run's log, and its EMF lines to the emulator's CloudWatch, as
Lambda's log group and CloudWatch Logs would take them. Three faults can be switched on and off while it runs, for the
end-to-end tests of the alarms: ``throttling`` (every invocation refused, as at the concurrency limit),
``table_throttling`` (every table write of the function throttled, as by a table out of capacity) and
``delay_seconds`` (every invocation that much slower, as behind a slow dependency).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import boto3

from tools.local.deploy import DeployedStack
from tools.local.metrics import MetricPublisher
from tools.local.watchdog import ComponentFailure, ended

WORKER = Path(__file__).with_name("lambda_worker.py")
STOP_SECONDS = 10  # for every worker to finish its invocation and exit, once told
CODE_CACHE = Path(tempfile.gettempdir()) / "local-lambda-code"
WRITE_COUNTS = ("written", "throttled", "server_errors")  # what a worker's reply counts of the table's writes


@dataclass(frozen=True, kw_only=True)
class TableWrites:
    """What DynamoDB counted of one invocation's table writes, by the epoch second they happened in."""

    written: Mapping[int, int] = field(default_factory=dict)
    throttled: Mapping[int, int] = field(default_factory=dict)
    server_errors: Mapping[int, int] = field(default_factory=dict)

    @classmethod
    def from_reply(cls, reply: Mapping[str, Mapping[str, int]]) -> TableWrites:
        """From a worker's reply, whose seconds are JSON keys (strings)."""
        return cls(
            **{kind: {int(second): int(count) for second, count in reply[kind].items()} for kind in WRITE_COUNTS}
        )


@dataclass(frozen=True, kw_only=True)
class InvocationResult:
    response: dict[str, Any] | None
    error: str | None
    throttled: bool = False  # refused before the function ran
    table: TableWrites = field(default_factory=TableWrites)


class LocalFunction:
    """A pool of worker processes running the deployed code of one function; ``invoke`` is thread-safe."""

    def __init__(
        self,
        *,
        function_name: str,
        qualifier: str | None = None,
        code: bytes,
        concurrency: int,
        log: IO[str],
        faults: Mapping[str, Any] | None = None,
        metrics: MetricPublisher | None = None,
    ) -> None:
        lambda_client = boto3.client("lambda")
        configuration = (
            lambda_client.get_function(FunctionName=function_name, Qualifier=qualifier)
            if qualifier
            else lambda_client.get_function(FunctionName=function_name)
        )
        self.name = function_name
        self.qualifier = qualifier
        self.table_name = str(
            configuration["Configuration"].get("Environment", {}).get("Variables", {}).get("TABLE_NAME")
        )
        self.throttling = threading.Event()
        self.table_throttling = threading.Event()
        self.delay_seconds = 0.0
        self.version = str(configuration["Configuration"].get("Version", "$LATEST"))  # what the qualifier resolved to
        self.code_dir = unpacked(code)
        environment = {
            **{k: v for k, v in os.environ.items() if k.startswith("AWS_")},
            **configuration["Configuration"].get("Environment", {}).get("Variables", {}),
            "AWS_LAMBDA_FUNCTION_NAME": function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(configuration["Configuration"].get("MemorySize", 128)),
            "AWS_LAMBDA_FUNCTION_VERSION": self.version,
            "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon here
            "LOCAL_FAULTS": json.dumps(dict(faults or {})),
        }
        handler = configuration["Configuration"]["Handler"]
        self._idle: queue.Queue[subprocess.Popen[str]] = queue.Queue()
        self._workers = [
            subprocess.Popen(  # noqa: S603 - our worker script, the deployed code's handler name
                [sys.executable, "-I", "-S", str(WORKER), str(self.code_dir), handler],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=environment,
            )
            for _ in range(concurrency)
        ]
        self._log, self._log_lock, self._metrics = log, threading.Lock(), metrics
        self._readers = [
            threading.Thread(target=self._read_output, args=(worker,), daemon=True) for worker in self._workers
        ]
        for worker, reader in zip(self._workers, self._readers, strict=True):
            reader.start()
            self._idle.put(worker)
        self._closing = False

    def invoke(self, event: dict[str, Any]) -> InvocationResult:
        if self.throttling.is_set():
            return InvocationResult(response=None, error=None, throttled=True)
        worker = self._idle.get()
        try:
            assert worker.stdin is not None
            assert worker.stdout is not None
            try:
                request = {"id": str(uuid.uuid4()), "event": event, "throttle_table": self.table_throttling.is_set()}
                worker.stdin.write(json.dumps(request) + "\n")
                worker.stdin.flush()
                reply = worker.stdout.readline()
            except BrokenPipeError:
                reply = ""  # it was gone before the request
            if not reply:
                raise RuntimeError(f"worker of {self.name} exited with {worker.wait()}")
            document = json.loads(reply)
            time.sleep(self.delay_seconds)
            return InvocationResult(
                response=document.get("ok"),
                error=document.get("error"),
                table=TableWrites.from_reply(document["table"]),
            )
        finally:
            self._idle.put(worker)

    def failures(self) -> list[ComponentFailure]:
        """The workers that ended while the function was in use (each ends only when closed)."""
        if self._closing:
            return []
        return [
            ComponentFailure(component=f"function worker {number} (pid {worker.pid})", how=ended(returncode))
            for number, worker in enumerate(self._workers, start=1)
            if (returncode := worker.poll()) is not None
        ]

    def _read_output(self, worker: subprocess.Popen[str]) -> None:
        """A worker's logs to the run's log; its EMF lines also to CloudWatch."""
        assert worker.stderr is not None
        for line in worker.stderr:
            with self._log_lock:
                self._log.write(line)
            if self._metrics is not None:
                self._metrics.add_log_line(line)

    def close(self, *, timeout: float | None = None) -> None:
        """Tell every worker to end; one that has not within ``timeout`` seconds (default 10) is killed."""
        self._closing = True
        for worker in self._workers:  # every worker is told first, so they all wind down at once
            if worker.stdin:
                with contextlib.suppress(BrokenPipeError):  # a worker that died leaves its pipe broken
                    worker.stdin.close()
        deadline = time.monotonic() + (STOP_SECONDS if timeout is None else timeout)
        for worker in self._workers:
            try:
                worker.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:  # stuck in a request to a part that died
                worker.kill()
                worker.wait()
        for reader in self._readers:  # a worker's output ends with it
            reader.join(timeout=max(0.0, deadline - time.monotonic()))


def unpacked(code: bytes, root: Path = CODE_CACHE) -> Path:
    """The directory holding ``code`` (a zip) unpacked: named by the zip's digest, so unchanged code is reused."""
    target = root / hashlib.sha256(code).hexdigest()[:32]
    if not target.is_dir():
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=root))
        zipfile.ZipFile(io.BytesIO(code)).extractall(staging)
        staging.rename(target)  # whole or not at all: a run stopped half-way leaves only a staging directory
    return target


def deployed_code(stack: DeployedStack, function_logical_id: str, *, account: str, region: str) -> bytes:
    """The zip CloudFormation deployed for a function: its Code.S3Bucket/S3Key in the bootstrap bucket."""
    code = stack.template["Resources"][function_logical_id]["Properties"]["Code"]
    bucket = code["S3Bucket"]
    if isinstance(bucket, dict):  # {"Fn::Sub": "cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}"}
        bucket = bucket["Fn::Sub"].replace("${AWS::AccountId}", account).replace("${AWS::Region}", region)
    return bytes(boto3.client("s3").get_object(Bucket=bucket, Key=code["S3Key"])["Body"].read())
