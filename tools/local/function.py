"""The processor as deployed: its code is downloaded from the emulator and run in clean worker processes.

Each worker's output (the function's logs) goes to the run's log, and its EMF lines to the emulator's CloudWatch, as
Lambda's log group and CloudWatch Logs would take them. Two faults can be switched on and off while it runs, for the
end-to-end tests of the alarms: ``throttling`` (every invocation refused, as at the concurrency limit) and
``delay_seconds`` (every invocation that much slower, as behind a slow dependency).
"""

from __future__ import annotations

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
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import boto3

from tools.local.deploy import DeployedStack
from tools.local.metrics import MetricPublisher

WORKER = Path(__file__).with_name("lambda_worker.py")
CODE_CACHE = Path(tempfile.gettempdir()) / "local-lambda-code"


@dataclass(frozen=True, kw_only=True)
class TableWrites:
    """What DynamoDB counted of one invocation's table writes."""

    written: int = 0
    throttled: int = 0
    server_errors: int = 0


@dataclass(frozen=True, kw_only=True)
class InvocationResult:
    response: dict[str, Any] | None
    error: str | None
    throttled: bool = False  # refused before the function ran
    table: TableWrites = TableWrites()


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

    def invoke(self, event: dict[str, Any]) -> InvocationResult:
        if self.throttling.is_set():
            return InvocationResult(response=None, error=None, throttled=True)
        worker = self._idle.get()
        try:
            assert worker.stdin is not None
            assert worker.stdout is not None
            worker.stdin.write(json.dumps({"id": str(uuid.uuid4()), "event": event}) + "\n")
            worker.stdin.flush()
            reply = worker.stdout.readline()
            if not reply:
                raise RuntimeError(f"worker of {self.name} exited with {worker.wait()}")
            document = json.loads(reply)
            time.sleep(self.delay_seconds)
            return InvocationResult(
                response=document.get("ok"), error=document.get("error"), table=TableWrites(**document["table"])
            )
        finally:
            self._idle.put(worker)

    def _read_output(self, worker: subprocess.Popen[str]) -> None:
        """A worker's logs to the run's log; its EMF lines also to CloudWatch."""
        assert worker.stderr is not None
        for line in worker.stderr:
            with self._log_lock:
                self._log.write(line)
            if self._metrics is not None:
                self._metrics.add_log_line(line)

    def close(self) -> None:
        for worker in self._workers:  # every worker is told first, so they all wind down at once
            if worker.stdin:
                worker.stdin.close()
        for worker in self._workers:
            worker.wait(timeout=10)
        for reader in self._readers:
            reader.join(timeout=10)


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
