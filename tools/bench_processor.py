"""Benchmark of the processor handler with AWS served by moto in process.

    python -m tools.bench_processor [--readings 10000] [--batch-size 1000]

Prints handler throughput (readings/s), CPU microseconds per reading and the handler module's cold import
time. moto's own CPU time is included, so these are upper bounds of the handler's cost.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

REGION = "eu-west-1"
REPO_ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--readings", type=_positive, default=10_000, help="readings to process (default 10000)")
    parser.add_argument("--batch-size", type=_positive, default=1_000, help="records per invocation (default 1000)")
    args = parser.parse_args(argv)

    os.environ.update(
        AWS_DEFAULT_REGION=REGION, AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",  # noqa: S106 - moto only
        POWERTOOLS_SERVICE_NAME="processor", POWERTOOLS_METRICS_NAMESPACE="IotPlatform",
        POWERTOOLS_TRACE_DISABLED="true", POWERTOOLS_LOG_LEVEL="WARNING", POWERTOOLS_METRICS_DISABLED="true",
    )  # fmt: skip
    print(f"cold import of the handler module: {cold_import_ms():.0f} ms")

    from moto import mock_aws  # noqa: PLC0415 - imported after the environment is set

    from services.iot_processor.runtime import handler  # noqa: PLC0415
    from services.iot_processor.runtime.settings import encode_bounds  # noqa: PLC0415
    from shared.readings.anomalies import DEFAULT_ANOMALY_BOUNDS  # noqa: PLC0415
    from shared.readings.generator import synthetic_records  # noqa: PLC0415
    from tools.local.kinesis_events import kinesis_event  # noqa: PLC0415
    from tools.processor_fixtures import create_processor_resources  # noqa: PLC0415

    records = synthetic_records(
        args.readings, run_id="bench", now=datetime.now(UTC), anomaly_share=0.01, invalid_share=0.01
    )
    with mock_aws():
        resources = create_processor_resources(region=REGION)
        os.environ.update(
            TABLE_NAME=resources.table_name, PROCESSED_BUCKET=resources.bucket, ALERT_TOPIC_ARN=resources.topic_arn,
            ANOMALY_BOUNDS=encode_bounds(DEFAULT_ANOMALY_BOUNDS), TTL_DAYS="7", ANOMALY_INDEX_SHARDS="16",
        )  # fmt: skip
        batches = [
            kinesis_event([r.data for r in records[start : start + args.batch_size]], first_sequence=start)
            for start in range(0, len(records), args.batch_size)
        ]
        failures = 0
        wall, cpu = time.perf_counter(), time.process_time()
        for event in batches:
            failures += len(handler.lambda_handler(event, _Context())["batchItemFailures"])
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"readings: {len(records)} in {len(batches)} invocations of {args.batch_size}; failed records: {failures}")
    print(f"handler throughput: {len(records) / wall:,.0f} readings/s ({wall:.2f} s wall)")
    print(f"CPU per reading: {cpu / len(records) * 1e6:,.0f} µs (handler + moto in process)")
    return 1 if failures else 0


class _Context:
    function_name = "processor"
    memory_limit_in_mb = 1024
    invoked_function_arn = f"arn:aws:lambda:{REGION}:123456789012:function:processor"
    aws_request_id = "bench"


def cold_import_ms() -> float:
    code = (
        "import time; t = time.perf_counter(); import services.iot_processor.runtime.handler; "
        "print((time.perf_counter() - t) * 1000)"
    )
    result = subprocess.run(  # noqa: S603 - fixed command
        [sys.executable, "-c", code],
        check=True,
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    return float(result.stdout.strip().splitlines()[-1])


def _positive(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {raw}")
    return value


if __name__ == "__main__":
    sys.exit(main())
