"""Runs deployed Lambda code in a clean interpreter, one invocation per line of JSON on stdin.

Started by LocalFunction as ``python -I -S lambda_worker.py <code dir> <module.function>``: nothing of the dev
virtualenv is importable, only the standard library and what the deployed asset carries. Replies go to the
original stdout, each with what DynamoDB would count of its table writes (for the table's metrics); the function's
own output (its logs, EMF included) goes to stderr. Standard library only.

Fault injection for tests (env LOCAL_FAULTS, JSON, see Faults): {"throttle_batch_writes": N} makes this worker's
first N DynamoDB BatchWriteItem calls fail with ProvisionedThroughputExceededException;
{"table_server_errors": N} makes the next N fail with InternalServerError (HTTP 500);
{"crash_mid_batch_on_invocations": [k, ...]} crashes this worker's k-th invocation after its table writes;
{"poison_marker": "..."} fails every invocation whose batch holds a record containing the marker. A request that
says ``"throttle_table": true`` has every BatchWriteItem of its invocation throttled (LocalFunction.table_throttling).
"""

import base64
import importlib
import json
import os
import signal
import sys
import time
import traceback
from typing import Any

THROTTLED, SERVER_ERROR = "ProvisionedThroughputExceededException", "InternalServerError"
INVOCATION_SECONDS = 60  # the time an invocation is given here; the deployed function's timeout is longer


class Context:
    def __init__(self, function_name: str, request_id: str) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024"))
        self.invoked_function_arn = (
            f"arn:aws:lambda:{os.environ.get('AWS_REGION', 'eu-west-1')}:123456789012:function:{function_name}"
        )
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + INVOCATION_SECONDS

    def get_remaining_time_in_millis(self) -> int:
        """Counted down from the invocation's start, as Lambda does: code that waits for time must see it pass."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class Faults:
    """Faults injected into the deployed code's AWS calls (only for the end-to-end tests), and its table writes
    counted as DynamoDB would count them (for the table's metrics)."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.throttles_left = int(spec.get("throttle_batch_writes", 0))
        self.server_errors_left = int(spec.get("table_server_errors", 0))
        self.crash_mid_batch = set(spec.get("crash_mid_batch_on_invocations", []))
        self.poison_marker = str(spec.get("poison_marker", "")).encode()
        self.invocation = 0
        self.throttle_table = False  # every table write of this invocation throttled (switched by the runner)
        self.table_writes = TableWrites()

    def install(self) -> None:
        # botocore comes from the deployed asset, so it is imported only once sys.path points there.
        try:
            from botocore.client import BaseClient  # noqa: PLC0415
        except ImportError:
            return  # code without botocore makes no AWS call to count or to fail

        original = getattr(BaseClient, "_make_api_call")  # noqa: B009 - private botocore hook, patched on purpose
        faults = self

        def faulty(client: Any, operation_name: str, api_params: Any) -> Any:
            if operation_name == "BatchWriteItem":
                return faults.batch_write(lambda: original(client, operation_name, api_params), api_params)
            processed_put = operation_name == "PutObject" and str(api_params.get("Key", "")).startswith("processed/")
            if processed_put and faults.invocation in faults.crash_mid_batch:
                raise RuntimeError(f"injected crash in the middle of invocation {faults.invocation}")
            return original(client, operation_name, api_params)

        setattr(BaseClient, "_make_api_call", faulty)  # noqa: B010

    def batch_write(self, call: Any, request: Any) -> Any:
        """One BatchWriteItem: an injected fault, or the call, counted as DynamoDB would count it."""
        from botocore.exceptions import ClientError  # noqa: PLC0415 - from the deployed asset, as above

        sent = sum(len(entries) for entries in request.get("RequestItems", {}).values())
        fault = self._next_fault()
        if fault is not None:
            code, status = fault
            self.table_writes.count(code, sent)
            error: Any = {
                "Error": {"Code": code, "Message": "injected"},
                "ResponseMetadata": {"HTTPStatusCode": status},
            }
            raise ClientError(error, "BatchWriteItem")
        try:
            response = call()
        except ClientError as error:  # the emulator's own: a provisioned table out of capacity
            self.table_writes.count(str(error.response.get("Error", {}).get("Code")), sent)
            raise
        unprocessed = sum(len(entries) for entries in response.get("UnprocessedItems", {}).values())
        self.table_writes.add("written", sent - unprocessed)  # an item of a reading is well under 1 KB: one unit
        self.table_writes.add("throttled", unprocessed)  # left unprocessed for want of capacity: a throttle event each
        return response

    def _next_fault(self) -> tuple[str, int] | None:
        """The error code and HTTP status this write fails with: throttles first, then server errors."""
        if self.throttle_table:
            return THROTTLED, 400
        if self.throttles_left > 0:
            self.throttles_left -= 1
            return THROTTLED, 400
        if self.server_errors_left > 0:
            self.server_errors_left -= 1
            return SERVER_ERROR, 500
        return None

    def poisoned(self, event: dict[str, Any]) -> bool:
        """A poison record crashes every invocation that carries it, as a runtime bug on that input would."""
        return bool(self.poison_marker) and any(
            self.poison_marker in base64.b64decode(record["kinesis"]["data"]) for record in event.get("Records", [])
        )


class TableWrites:
    """What one invocation's table writes would show in the table's metrics, by the epoch second they happened in:
    DynamoDB publishes them as they happen, and an invocation that retries for a minute spans many periods."""

    KINDS = ("written", "throttled", "server_errors")

    def __init__(self) -> None:
        self.by_second: dict[str, dict[str, int]] = {kind: {} for kind in self.KINDS}

    def add(self, kind: str, count: int) -> None:
        if count:
            counts, second = self.by_second[kind], str(int(time.time()))
            counts[second] = counts.get(second, 0) + count

    def count(self, code: str, items: int) -> None:
        """A refused BatchWriteItem of ``items`` items: DynamoDB counts a throttle event per item and a system error
        per request."""
        if code == SERVER_ERROR:
            self.add("server_errors", 1)
        elif code == THROTTLED:
            self.add("throttled", items)

    def reply(self) -> dict[str, dict[str, int]]:
        return self.by_second


def main() -> None:
    # Ctrl-C reaches every process of the terminal's group: the runner decides when the workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    code_dir, handler_path = sys.argv[1], sys.argv[2]
    sys.path.insert(0, code_dir)
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    sys.stdout = sys.stderr  # the function's prints and logs must not mix with replies
    faults = Faults(json.loads(os.environ.get("LOCAL_FAULTS", "{}")))
    faults.install()
    module_name, function_name = handler_path.rsplit(".", 1)
    handler = getattr(importlib.import_module(module_name), function_name)
    for invocation, line in enumerate(sys.stdin, start=1):
        request = json.loads(line)
        faults.invocation = invocation
        faults.throttle_table = bool(request.get("throttle_table"))
        faults.table_writes = TableWrites()
        if faults.poisoned(request["event"]):
            replies.write(
                json.dumps({"error": "RuntimeError: poison record", "table": faults.table_writes.reply()}) + "\n"
            )
            continue
        try:
            response = handler(
                request["event"], Context(os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "local"), request["id"])
            )
            reply: dict[str, Any] = {"ok": response}
        except Exception as error:
            traceback.print_exc()
            reply = {"error": f"{type(error).__name__}: {error}"}
        replies.write(json.dumps({**reply, "table": faults.table_writes.reply()}) + "\n")


if __name__ == "__main__":
    main()
