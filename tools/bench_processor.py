"""Benchmark of the processor handler with AWS served by moto in process.

    python -m tools.bench_processor [--readings 10000] [--batch-size 1000]

Prints handler throughput (readings/s), CPU microseconds per reading and the handler module's cold import
time. moto's own CPU time is included, so these are upper bounds of the handler's cost. Then the worst case:
records of up to 4 KiB built to be as costly as possible for each class of hostile input, each timed through
what the processor does with one record (parse, judge, build the item), and the slowest named.
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
    print_worst_case()
    return 1 if failures else 0


def print_worst_case(repeats: int = 5) -> None:
    """Per class of hostile record: the median of ``repeats`` timings; the slowest class is the worst case."""
    from services.iot_processor.runtime.table import StoredReading, item_for  # noqa: PLC0415
    from shared.readings.anomalies import DEFAULT_ANOMALY_BOUNDS, severity_of  # noqa: PLC0415
    from shared.readings.schema import InvalidReadingError, parse_reading  # noqa: PLC0415

    now = datetime.now(UTC)

    def settle(data: bytes) -> str:
        try:
            reading = parse_reading(data, now=now)
        except InvalidReadingError as problem:
            return str(problem.reason)
        item_for(
            StoredReading(reading=reading, severity=severity_of(reading, DEFAULT_ANOMALY_BOUNDS)),
            ttl_days=7,
            index_shards=16,
        )
        return "stored"

    timings = []
    for name, data in hostile_records(now).items():
        samples = []
        for _ in range(repeats):
            started = time.perf_counter()
            outcome = settle(data)
            samples.append(time.perf_counter() - started)
        timings.append((sorted(samples)[repeats // 2], name, len(data), outcome))
    print(f"hostile records: {len(timings)} classes, each timed {repeats} times (median)")
    for elapsed, name, size, outcome in sorted(timings, reverse=True)[:5]:
        print(f"  {elapsed * 1e3:7.3f} ms  {size:5d} B  {name} -> {outcome}")
    worst = max(timings)
    print(f"worst time per record: {worst[0] * 1e3:.3f} ms ({worst[1]}, {worst[2]} bytes)")


def hostile_records(now: datetime) -> dict[str, bytes]:
    """Records of at most 4 KiB, each the costliest this benchmark knows for its class of hostile input."""
    from shared.readings.schema import MAX_RECORD_BYTES  # noqa: PLC0415

    room = MAX_RECORD_BYTES - 200  # what a field may fill beside the other fields

    def reading(**fields: str) -> bytes:
        members = {
            "sensor_id": '"s-1"',
            "sensor_type": '"temperature"',
            "value": "21.5",
            "timestamp": f'"{now.isoformat()}"',
            **fields,
        }
        data = ("{" + ",".join(f'"{name}":{text}' for name, text in members.items()) + "}").encode()
        assert len(data) <= MAX_RECORD_BYTES, (fields.keys(), len(data))
        return data

    pairs = ",".join(f'"f{index}":{index}' for index in range(room // 12))
    return {
        "valid reading": reading(),
        "array nested to the limit": b"[" * MAX_RECORD_BYTES,
        "object nested inside the value": reading(value='{"a":' * (room // 6) + "1" + "}" * (room // 6)),
        "4000-digit value": reading(value="1." + "3" * (room - 2)),
        "4000-digit integer of an unevaluated type": reading(sensor_type='"counter"', value="9" * room),
        "value with a tiny magnitude": reading(value="1e-999999999"),
        "epoch of 1e999999999 ms": reading(timestamp="1e999999999"),
        "epoch with 4000 digits": reading(timestamp="1" * room),
        "epoch with 4000 trailing zeros": reading(timestamp="1790000000000." + "0" * (room - 14)),
        "ISO time overflowing UTC": reading(timestamp='"0001-01-01T00:00:00+01:00"'),
        "timestamp of 4000 characters": reading(timestamp='"' + "2" * room + '"'),
        "4000-character sensor id": reading(sensor_id='"' + "x" * room + '"'),
        "unit of lone surrogates": reading(unit='"' + "\\ud800" * (room // 6) + '"'),
        "hundreds of unknown fields": reading(**{f"u{index}": "1" for index in range(room // 10)}),
        "hundreds of duplicate fields": ("{" + ",".join(['"value":1'] * (room // 10)) + "}").encode(),
        "object of hundreds of numbers": ("{" + pairs + "}").encode(),
        "array of numbers with huge exponents": ("[" + ",".join(["1e999999999"] * (room // 12)) + "]").encode(),
        "invalid UTF-8 at the end": reading(unit='"' + "x" * 15 + '"')[:-2] + b"\xff}",
    }


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
