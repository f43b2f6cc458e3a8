"""Runs deployed Lambda code in a clean interpreter, one invocation per line of JSON on stdin.

Started by LocalFunction as ``python -I -S lambda_worker.py <code dir> <module.function>``: nothing of the dev
virtualenv is importable, only the standard library and what the deployed asset carries. Replies go to the
original stdout; the function's own output (its logs) goes to stderr. Standard library only.

Fault injection for tests (env LOCAL_FAULTS, JSON): {"throttle_batch_writes": N} makes the first N DynamoDB
BatchWriteItem calls fail with ProvisionedThroughputExceededException; {"crash_on_invocations": [k, ...]}
makes the k-th invocation (1-based) raise before the handler runs, as a crashed runtime would.
"""

import importlib
import json
import os
import sys
import traceback
from typing import Any


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

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def _inject_throttling(count: int) -> None:
    # botocore comes from the deployed asset, so it is imported only once sys.path points there.
    from botocore.client import BaseClient  # noqa: PLC0415
    from botocore.exceptions import ClientError  # noqa: PLC0415

    state = {"remaining": count}
    original = getattr(BaseClient, "_make_api_call")  # noqa: B009 - private botocore hook, patched on purpose

    def throttled(self: Any, operation_name: str, api_params: Any) -> Any:
        if operation_name == "BatchWriteItem" and state["remaining"] > 0:
            state["remaining"] -= 1
            error: Any = {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "injected throttling"}}
            raise ClientError(error, operation_name)
        return original(self, operation_name, api_params)

    setattr(BaseClient, "_make_api_call", throttled)  # noqa: B010


def main() -> None:
    code_dir, handler_path = sys.argv[1], sys.argv[2]
    sys.path.insert(0, code_dir)
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    sys.stdout = sys.stderr  # the function's prints and logs must not mix with replies
    faults = json.loads(os.environ.get("LOCAL_FAULTS", "{}"))
    if faults.get("throttle_batch_writes"):
        _inject_throttling(int(faults["throttle_batch_writes"]))
    module_name, function_name = handler_path.rsplit(".", 1)
    handler = getattr(importlib.import_module(module_name), function_name)
    crash_on = set(faults.get("crash_on_invocations", []))
    for invocation, line in enumerate(sys.stdin, start=1):
        request = json.loads(line)
        if invocation in crash_on:
            print(f"injected crash in invocation {invocation}", file=sys.stderr)
            replies.write(json.dumps({"error": f"RuntimeError: injected crash in invocation {invocation}"}) + "\n")
            continue
        try:
            response = handler(
                request["event"], Context(os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "local"), request["id"])
            )
            replies.write(json.dumps({"ok": response}) + "\n")
        except Exception as error:
            traceback.print_exc()
            replies.write(json.dumps({"error": f"{type(error).__name__}: {error}"}) + "\n")


if __name__ == "__main__":
    main()
