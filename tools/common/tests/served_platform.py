"""A stand-in for ``python -m tools.local.run --serve FILE`` in the tests of its client (tools/common/local_service.py):
it prints a report, serves FILE, answers each settle request, and ends when its input closes. Its first argument
says how it misbehaves: ``fine``, ``exit-before-serving`` or ``exit-on-settle``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tools.common.local_service import SETTLE, SETTLED, LocalService


def main() -> int:
    behaviour, served = sys.argv[1], Path(sys.argv[sys.argv.index("--serve") + 1])
    print("records put 10", flush=True)
    if behaviour == "exit-before-serving":
        return 3
    LocalService(endpoint="http://127.0.0.1:1", endpoints={"s3": "http://127.0.0.1:2"}, region="eu-west-1",
                 outputs={"ingest": {"TableName": "t"}}).write(served)  # fmt: skip
    for line in sys.stdin:
        if behaviour == "exit-on-settle":
            return 4
        through = json.loads(line)[SETTLE]
        print(f"settling {sorted(through.items())}", flush=True)
        print(json.dumps({SETTLED: float(len(through))}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
