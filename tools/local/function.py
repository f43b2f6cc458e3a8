"""The processor as deployed: its code is downloaded from the emulator and run in clean worker processes."""

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
import time
import uuid
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import boto3

from tools.local.deploy import DeployedStack
from tools.local.watchdog import ComponentFailure, ended

WORKER = Path(__file__).with_name("lambda_worker.py")
STOP_SECONDS = 10  # for every worker to finish its invocation and exit, once told
CODE_CACHE = Path(tempfile.gettempdir()) / "local-lambda-code"


@dataclass(frozen=True, kw_only=True)
class InvocationResult:
    response: dict[str, Any] | None
    error: str | None


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
    ) -> None:
        lambda_client = boto3.client("lambda")
        configuration = (
            lambda_client.get_function(FunctionName=function_name, Qualifier=qualifier)
            if qualifier
            else lambda_client.get_function(FunctionName=function_name)
        )
        self.name = function_name
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
                stderr=log,
                text=True,
                env=environment,
            )
            for _ in range(concurrency)
        ]
        for worker in self._workers:
            self._idle.put(worker)
        self._closing = False

    def invoke(self, event: dict[str, Any]) -> InvocationResult:
        worker = self._idle.get()
        try:
            assert worker.stdin is not None
            assert worker.stdout is not None
            try:
                worker.stdin.write(json.dumps({"id": str(uuid.uuid4()), "event": event}) + "\n")
                worker.stdin.flush()
                reply = worker.stdout.readline()
            except BrokenPipeError:
                reply = ""  # it was gone before the request
            if not reply:
                raise RuntimeError(f"worker of {self.name} exited with {worker.wait()}")
            document = json.loads(reply)
            return InvocationResult(response=document.get("ok"), error=document.get("error"))
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
