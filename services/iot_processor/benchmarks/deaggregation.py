"""What KPL de-aggregation costs the processor: cold import on top of the handler, and decode time.

    python -m services.iot_processor.benchmarks.deaggregation [--runs 15] [--readings 400]

For this repo's decoder and for AWS's ``aws-kinesis-agg`` library (a dev dependency, for comparison): what
importing the decoder adds to the handler's cold import, as the median of ``--runs`` clean interpreters
(``python -X importtime``: the decoder's cumulative time, counting only the modules the handler had not
already loaded); then the time to split one aggregate of ``--readings`` synthetic readings (the KPL's default
aggregate is 50 KiB, a few hundred readings).
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime

from shared.repository import REPO_ROOT

DECODERS = {
    "own decoder": "shared.kinesis.aggregation",
    "aws-kinesis-agg": "aws_kinesis_agg.deaggregator",
}


def extra_import_ms(module: str, *, runs: int) -> float:
    """The cumulative import time of ``module`` when the handler (and so its imports) comes first."""
    code = f"import services.iot_processor.runtime.handler, {module}"
    timings = []
    for _ in range(runs):
        trace = subprocess.run(  # noqa: S603 - fixed command
            [sys.executable, "-X", "importtime", "-c", code],
            check=True,
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        ).stderr
        (line,) = [line for line in trace.splitlines() if line.split("|")[-1].strip() == module]
        timings.append(int(line.split("|")[1]) / 1000)  # "import time: self | cumulative | name", microseconds
    return statistics.median(timings)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15, help="clean interpreters per import timing (default 15)")
    parser.add_argument("--readings", type=int, default=400, help="readings in the decoded aggregate (default 400)")
    args = parser.parse_args(argv)

    for name, module in DECODERS.items():
        print(f"extra cold import, {name} ({module}): {extra_import_ms(module, runs=args.runs):.1f} ms (median)")

    from aws_kinesis_agg.deaggregator import deaggregate_records  # noqa: PLC0415 - timed above in clean processes

    from shared.kinesis.aggregation import unpack  # noqa: PLC0415
    from shared.synthetic.kinesis_events import kinesis_event  # noqa: PLC0415
    from shared.synthetic.kpl import aggregated  # noqa: PLC0415
    from shared.synthetic.readings import synthetic_records  # noqa: PLC0415

    records = synthetic_records(args.readings, run_id="bench", now=datetime.now(UTC), anomaly_share=0, invalid_share=0)
    (aggregate,) = aggregated(records, max_bytes=1024 * 1024)
    event = kinesis_event([aggregate.data])["Records"]
    repeats = 50
    started = time.perf_counter()
    for _ in range(repeats):
        ours = unpack(aggregate.data, partition_key=aggregate.partition_key).records
    own_us = (time.perf_counter() - started) / repeats / len(ours) * 1e6
    started = time.perf_counter()
    for _ in range(repeats):
        theirs = [base64.b64decode(r["kinesis"]["data"]) for r in deaggregate_records(event)]
    their_us = (time.perf_counter() - started) / repeats / len(theirs) * 1e6
    print(f"aggregate: {len(aggregate.data):,} bytes, {len(ours)} readings")
    print(f"decode per user record: own decoder {own_us:.1f} µs, aws-kinesis-agg {their_us:.1f} µs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
