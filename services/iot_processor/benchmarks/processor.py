"""Benchmark of the processor: CPU per reading with stubbed I/O beside the seed's handler, moto throughput,
cold import, and the worst time per record over hostile input.

    python -m services.iot_processor.benchmarks.processor [--readings 10000] [--batch-size 500] [--repeats 3]

1. Stubbed I/O: every AWS call is answered at botocore's ``before-send`` hook with a canned success, so the
   SDK's validation, serialization and signing still run (stubbed_aws.py here). Workload: valid readings, 1 %
   anomalies. Our handler and, when ``../shared/baseline/seed_handler.py`` is beside the repository, the seed's
   handler (its JSON loaded with ``parse_float=Decimal`` and dumped with ``default=str``, here only, so that it
   stores and publishes at all). Our CPU per reading is split into decode and validation, item building, SDK
   (validation, serialization, signing), stubbed I/O (the canned response, parsed) and the rest (batch
   bookkeeping, processed output, Powertools).
2. moto in process: handler throughput and CPU per reading, moto's own cost included (upper bounds).
3. Cold import of the handler module in a clean interpreter.
4. The worst case: records of up to 4 KiB built to be as costly as possible for each class of hostile input,
   each timed through what the processor does with one record (parse, judge, build the item).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib.util
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from types import ModuleType, SimpleNamespace
from typing import TYPE_CHECKING, Any

from shared.repository import REPO_ROOT

if TYPE_CHECKING:
    import botocore.session

REGION = "eu-west-1"
SEED_HANDLER = REPO_ROOT.parent / "shared" / "baseline" / "seed_handler.py"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--readings", type=_positive, default=10_000, help="readings to process (default 10000)")
    parser.add_argument("--batch-size", type=_positive, default=500, help="records per invocation (default 500)")
    parser.add_argument("--repeats", type=_positive, default=3, help="stubbed runs of each handler (default 3)")
    args = parser.parse_args(argv)

    os.environ.update(
        AWS_DEFAULT_REGION=REGION, AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",  # noqa: S106 - not real
        POWERTOOLS_SERVICE_NAME="processor", POWERTOOLS_METRICS_NAMESPACE="IotPlatform",
        POWERTOOLS_TRACE_DISABLED="true", POWERTOOLS_LOG_LEVEL="WARNING", POWERTOOLS_METRICS_DISABLED="true",
        ANOMALY_BOUNDS='{"pressure": {"upper": 150}, "temperature": {"upper": 100}, "vibration": {"upper": 5}}',
        TTL_DAYS="7", ANOMALY_TTL_DAYS="7", ANOMALY_INDEX_SHARDS="16",
    )  # fmt: skip
    print_cold_import()
    print_stubbed_comparison(args.readings, args.batch_size, args.repeats)
    failures = print_moto_run(args.readings, args.batch_size)
    print_worst_case()
    return 1 if failures else 0


@dataclass(frozen=True, kw_only=True)
class StubbedRun:
    cpu: float
    sdk: float
    io: float


def print_stubbed_comparison(readings: int, batch_size: int, repeats: int) -> None:
    import boto3  # noqa: PLC0415 - after the environment is set
    import botocore.session  # noqa: PLC0415

    from services.iot_processor.benchmarks.stubbed_aws import stub_session  # noqa: PLC0415
    from shared.synthetic.kinesis_events import kinesis_event  # noqa: PLC0415
    from shared.synthetic.readings import synthetic_records  # noqa: PLC0415

    os.environ.update(
        TABLE_NAME="readings", PROCESSED_BUCKET="processed", ALERT_TOPIC_ARN=f"arn:aws:sns:{REGION}:123456789012:alerts"
    )
    session = botocore.session.get_session()
    spent = stub_session(session)
    boto3.DEFAULT_SESSION = boto3.Session(botocore_session=session)  # the seed's boto3 clients: stubbed too
    records = synthetic_records(readings, run_id="bench", now=datetime.now(UTC), anomaly_share=0.01, invalid_share=0)
    events = [
        kinesis_event([r.data for r in records[start : start + batch_size]], first_sequence=start)
        for start in range(0, len(records), batch_size)
    ]

    def run(handle: Callable[[dict[str, Any]], object]) -> StubbedRun:
        handle(events[0])  # warm: clients built, caches filled, as in a warm execution environment
        sdk, stubbed_io, cpu = spent.sdk, spent.io, time.process_time()
        for event in events:
            handle(event)
        return StubbedRun(cpu=time.process_time() - cpu, sdk=spent.sdk - sdk, io=spent.io - stubbed_io)

    print(f"stubbed I/O: {readings} valid readings, 1 % anomalies, {len(events)} invocations of {batch_size}")
    seed = _seed_handler()
    ours_runs: list[StubbedRun] = []
    seed_runs: list[StubbedRun] = []
    for _ in range(repeats):  # interleaved, so both see the same machine
        ours_runs.append(run(_our_handler(session)))
        if seed is not None:
            seed_runs.append(run(seed))
    ours = min(ours_runs, key=lambda result: result.cpu)
    per_reading = 1e6 / readings
    print(f"  ours: {ours.cpu * per_reading:6.1f} µs CPU per reading (best of {repeats})")
    decode, items = _contract_cpu([r.data for r in records])
    rest = ours.cpu - decode - items - ours.sdk - ours.io
    for name, seconds in (
        ("decode and validation", decode),
        ("item building", items),
        ("SDK: validation, serialization, signing", ours.sdk),
        ("stubbed I/O: canned response, parsed", ours.io),
        ("the rest: batch, processed output, Powertools", rest),
    ):
        print(f"    {seconds * per_reading:6.1f} µs  {name}")
    if not seed_runs:
        print(f"  seed: skipped ({SEED_HANDLER} is not there)")
        return
    theirs = min(seed_runs, key=lambda result: result.cpu)
    print(f"  seed: {theirs.cpu * per_reading:6.1f} µs CPU per reading (best of {repeats})")
    ratios = ", ".join(f"{s.cpu / o.cpu:.2f}" for o, s in zip(ours_runs, seed_runs, strict=True))
    print(f"  ours is {theirs.cpu / ours.cpu:.2f}x the seed's throughput per CPU second (run by run: {ratios})")


def _our_handler(session: botocore.session.Session) -> Callable[[dict[str, Any]], object]:
    """The Lambda entry point, with the processor it builds on a cold start made on the stubbed session."""
    from services.iot_processor.runtime import handler  # noqa: PLC0415
    from services.iot_processor.runtime.clients import AwsClients  # noqa: PLC0415

    build = handler.reading_processor
    build.cache_clear()
    processor = build(AwsClients(session=session))
    gc.freeze()  # as the handler's own cold start does (it freezes only the clients it makes itself)

    def handle(event: dict[str, Any]) -> object:
        handler.reading_processor = lambda: processor  # type: ignore[assignment]
        try:
            response = handler.lambda_handler(event, _Context())
        finally:
            handler.reading_processor = build
        if response["batchItemFailures"]:  # a call the stub did not answer: the figures would be of retries
            raise RuntimeError(f"stubbed run reported {len(response['batchItemFailures'])} failed records")
        return response

    return handle


def _seed_handler() -> Callable[[dict[str, Any]], object] | None:
    if not SEED_HANDLER.exists():
        return None
    os.environ.update(DYNAMODB_TABLE="readings")
    spec = importlib.util.spec_from_file_location("seed_handler", SEED_HANDLER)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {SEED_HANDLER}")
    seed: ModuleType = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(seed)
    # Here only: DynamoDB rejects floats, and the seed's own dumps cannot write the Decimals it then holds.
    decimal_json = SimpleNamespace(
        loads=partial(json.loads, parse_float=Decimal), dumps=partial(json.dumps, default=str)
    )
    seed.json = decimal_json  # type: ignore[attr-defined]

    def handle(event: dict[str, Any]) -> object:
        with contextlib.redirect_stdout(io.StringIO()):  # it prints per batch and per alert
            return seed.lambda_handler(event, _Context())

    return handle


def _contract_cpu(payloads: Sequence[bytes]) -> tuple[float, float]:
    """CPU seconds to decode and validate ``payloads``, then to judge them and build their items."""
    from services.iot_processor.runtime.table import StoredReading, item_for  # noqa: PLC0415
    from shared.readings.anomalies import DEFAULT_ANOMALY_BOUNDS, severity_of  # noqa: PLC0415
    from shared.readings.schema import parse_reading  # noqa: PLC0415

    now = datetime.now(UTC)
    started = time.process_time()
    readings = [parse_reading(data, now=now) for data in payloads]
    decoded = time.process_time()
    for reading in readings:
        stored = StoredReading(reading=reading, severity=severity_of(reading, DEFAULT_ANOMALY_BOUNDS))
        item_for(stored, ttl_days=7, anomaly_ttl_days=7, index_shards=16)
    return decoded - started, time.process_time() - decoded


def print_moto_run(readings: int, batch_size: int) -> int:
    """The handler against moto in process; returns the number of records reported failed."""
    from moto import mock_aws  # noqa: PLC0415 - imported after the environment is set

    from services.iot_processor.runtime import handler  # noqa: PLC0415
    from services.iot_processor.tests.resources import create_processor_resources  # noqa: PLC0415
    from shared.synthetic.kinesis_events import kinesis_event  # noqa: PLC0415
    from shared.synthetic.readings import synthetic_records  # noqa: PLC0415

    records = synthetic_records(readings, run_id="bench", now=datetime.now(UTC), anomaly_share=0.01, invalid_share=0.01)
    with mock_aws():
        resources = create_processor_resources(region=REGION)
        os.environ.update(
            TABLE_NAME=resources.table_name, PROCESSED_BUCKET=resources.bucket, ALERT_TOPIC_ARN=resources.topic_arn
        )
        handler.reading_processor.cache_clear()
        batches = [
            kinesis_event([r.data for r in records[start : start + batch_size]], first_sequence=start)
            for start in range(0, len(records), batch_size)
        ]
        failures = 0
        wall, cpu = time.perf_counter(), time.process_time()
        for event in batches:
            failures += len(handler.lambda_handler(event, _Context())["batchItemFailures"])
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"moto: {len(records)} readings (1 % invalid) in {len(batches)} invocations; failed records: {failures}")
    print(f"  handler throughput: {len(records) / wall:,.0f} readings/s ({wall:.2f} s wall)")
    print(f"  CPU per reading: {cpu / len(records) * 1e6:,.0f} µs (handler + moto in process)")
    return failures


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
            anomaly_ttl_days=7,
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


HANDLER_MODULE = "services.iot_processor.runtime.handler"


def print_cold_import(runs: int = 5) -> None:
    """The handler module's import in a clean interpreter: from source and from bytecode, best of ``runs``.

    The asset ships source only (Lambda's Python is newer than the build's, so no bytecode is compiled for it),
    and /var/task is read-only, so a real cold start compiles: the from-source figure is the one that counts
    there. The largest imports are read from ``-X importtime``.
    """
    with tempfile.TemporaryDirectory() as cache:
        source = min(_import_ms(cache=None) for _ in range(runs))
        _import_ms(cache=cache)  # writes the bytecode
        compiled = min(_import_ms(cache=cache) for _ in range(runs))
        print(
            f"cold import of the handler module (best of {runs}, wall / CPU): "
            f"{source[0]:.0f} / {source[1]:.0f} ms from source, {compiled[0]:.0f} / {compiled[1]:.0f} ms from bytecode"
        )
        print(f"  largest imports (from bytecode): {_largest_imports(cache)}")


def _interpreter(arguments: list[str], *, cache: str | None) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    if cache is None:  # an empty cache that is never written: every module is compiled from source
        environment.update(PYTHONPYCACHEPREFIX=tempfile.mkdtemp(), PYTHONDONTWRITEBYTECODE="1")
    else:
        environment["PYTHONPYCACHEPREFIX"] = cache
    return subprocess.run(  # noqa: S603 - fixed command
        [sys.executable, *arguments], check=True, capture_output=True, text=True, cwd=REPO_ROOT, env=environment
    )


def _import_ms(*, cache: str | None) -> tuple[float, float]:
    """Wall and CPU milliseconds of one import (CPU is the steadier figure on a shared machine)."""
    code = (
        f"import time; t, c = time.perf_counter(), time.process_time(); import {HANDLER_MODULE}; "
        "print((time.perf_counter() - t) * 1000, (time.process_time() - c) * 1000)"
    )
    wall, cpu = _interpreter(["-c", code], cache=cache).stdout.strip().splitlines()[-1].split()
    return float(wall), float(cpu)


def _largest_imports(cache: str, count: int = 5) -> str:
    """The costliest modules the handler imports directly, with everything they import, in ms."""
    lines = _interpreter(["-X", "importtime", "-c", f"import {HANDLER_MODULE}"], cache=cache).stderr.splitlines()
    direct = []
    for line in lines:
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line.split("|")
        if cumulative.strip().isdigit() and name.startswith("   ") and not name.startswith("    "):
            direct.append((int(cumulative) / 1000, name.strip()))
    return ", ".join(f"{name} {ms:.0f}" for ms, name in sorted(direct, reverse=True)[:count])


def _positive(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {raw}")
    return value


if __name__ == "__main__":
    sys.exit(main())
