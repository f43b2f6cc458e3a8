"""The main job: the whole data path on this machine, on moto's server (no AWS account).

    python -m tools.local.run [--records 10000] [--rate R] [--anomaly-share 0.01] [--producer kpl] [--keep-running]
                              [--fleet steady=70,daily=10,drift=5,stuck=5,dropout=5,flush=5] [--seed 7]

1. starts the emulator and synthesizes the app with a ``local`` stage (the dev config, moto's account);
2. creates that stage's real templates (ingest, archive, observability) through CloudFormation, then gives
   Kinesis, DynamoDB, S3 and SNS+SQS each a copy of the emulator with what was deployed (tools/local/emulator.py);
3. runs the processor from the code CloudFormation deployed, behind a local event source mapping configured
   from the deployed mapping, and a local Firehose configured from the deployed delivery stream;
4. streams synthetic readings, one per Kinesis record or (``--producer kpl``) aggregated as the Kinesis
   Producer Library does, with AWS's aggregation library; then checks where every one landed (the smoke
   test's checks) and prints counts, anomalies, quarantine reasons, throughput and end-to-end latency;
5. leaves a copy of the raw archive on disk for `make query` (tools/local/archive_copy.py).

``--fleet`` streams a fleet of device profiles (shared/synthetic/fleets.py) instead of uniform readings.
``--serve FILE`` keeps the platform up after a round that passed, for another tool (a drill) to work on it: the
emulator's endpoints and the stage's outputs go to FILE, and each line on stdin asks the run to settle
(tools/common/local_service.py); the run stops when its stdin closes.
A watchdog follows every process and thread of the platform: one that dies, or a data path that stops moving
for --stall-seconds, stops the run with the part named and where the outstanding readings were.
Exits 0 when every reading landed where it belongs, 1 when one did not, 2 on a bad argument or a machine that
cannot run it (no node, build/ not writable, the port taken), 3 when a part of the platform failed, 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import hashlib
import itertools
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3

from services.iot_archive import contract as archive_contract
from services.iot_processor import contract as ingest_contract
from services.observability import contract as observability_contract
from shared.infra.naming import pascal_case
from shared.repository import REPO_ROOT
from shared.synthetic.fleets import fleet_records
from shared.synthetic.readings import SyntheticRecord, synthetic_records
from tools.alarms.definitions import State
from tools.alarms.evaluator import CloudWatchSource
from tools.common.arguments import fleet_mix, port_number, positive_int, positive_number, share
from tools.common.local_archive import LOCAL_ARCHIVE
from tools.common.local_service import SETTLE, SETTLED, LocalService
from tools.landing.locate import AlertInbox, Checks, Landing, wait_for_landing
from tools.landing.producers import PRODUCERS, Sent, last_put
from tools.landing.report import report
from tools.landing.targets import Targets
from tools.local.alarms import AlarmWatch, StageMonitoring, stage_monitoring
from tools.local.archive_copy import copy_archive
from tools.local.dashboard_page import RunPicture, Window, dashboard_page
from tools.local.deploy import DeployedStage, deploy_stage
from tools.local.emulator import (
    LOCAL_ACCOUNT,
    LOCAL_REGION,
    Emulator,
    EmulatorError,
    PortInUseError,
    embedded_aws,
    stop_stale,
)
from tools.local.event_source_mapping import LocalEventSourceMapping, MappingSettings
from tools.local.firehose import DeliverySettings, LocalFirehose
from tools.local.function import LocalFunction, deployed_code
from tools.local.metrics import MetricPublisher, publish_storage
from tools.local.shard_reader import StreamPositions, shard_ids
from tools.local.watchdog import ComponentFailure, Watchdog

EXIT_CHECKS_FAILED, EXIT_UNUSABLE, EXIT_PLATFORM_FAILED, EXIT_INTERRUPTED = 1, 2, 3, 130
LOCAL_STAGE_ID = "Sandbox"
DEFAULT_STALL_SECONDS = 20.0
FAILED_STOP_SECONDS = 2.0  # how long a failed platform's parts get to end before they are left or killed
PID_FILE = REPO_ROOT / "build" / "local-emulator.pid"
WRITABLE = ("build", "reports")  # the synthesized stage and the processor's code; the run's logs
SERVICES = (ingest_contract.SERVICE, archive_contract.SERVICE, observability_contract.SERVICE)
SETTLE_TIMEOUT_SECONDS = 300
# Readings the runner puts and checks at a time: each holds a few KB here while its round is checked (the emulator
# keeps every reading, as the stream, table and buckets would; docs/performance.md has both bounds).
ROUND_READINGS = 100_000
MAX_WORKERS = 4  # processes running the function; more only contend for this machine's cores
# The dev stage's config in moto's account. Four lanes per shard instead of dev's one: the local function runs in
# worker processes, and one lane would leave all but one of them, and a core, idle.
LOCAL_OVERRIDES = {
    "sandbox": "dev",
    "sandboxAccount": LOCAL_ACCOUNT,
    "iot.stages.dev.ingest.parallelizationFactor": "4",
}
ASSEMBLY_CACHE = REPO_ROOT / "build" / "local-assembly"
# Everything a synth reads: the app, every service and the shared code, config, and the locked dependencies.
SYNTH_INPUTS = (
    "cdk.json",
    "pipeline_app.py",
    "tools/common/cdk_app.py",
    "stages",
    "services",
    "shared",
    "uv.lock",
    "package-lock.json",
)
# A run's readings, pages and answers are rarely cyclic garbage, and what the deploy loaded lives for the whole run:
# with Python's default thresholds the collector scanned it all again and again (docs/performance.md).
GC_THRESHOLDS = (20_000, 20, 10)


@dataclass(frozen=True, kw_only=True)
class Whereabouts:
    """How far the readings of a round got; the differences say where the outstanding ones are."""

    put: int
    read: int  # by the event source mapping
    settled: int  # stored, quarantined or sent to the failure destination by the processor
    archived: int  # written to the raw archive by Firehose

    def __sub__(self, start: Whereabouts) -> Whereabouts:
        return Whereabouts(
            put=self.put - start.put,
            read=self.read - start.read,
            settled=self.settled - start.settled,
            archived=self.archived - start.archived,
        )

    def describe(self) -> str:
        return "\n".join(
            [
                _row("put", str(self.put), "readings this round"),
                _row("read", str(self.read), f"by the event source mapping ({self.put - self.read} put but not read)"),
                _row("settled", str(self.settled), f"by the processor ({self.read - self.settled} read but not stored "
                     "or quarantined)"),
                _row("archived", str(self.archived), f"by Firehose ({max(0, self.settled - self.archived)} stored but "
                     "not archived)"),
            ]
        )  # fmt: skip


class PlatformError(RuntimeError):
    """A part of the local platform died or stopped moving."""

    def __init__(self, failure: ComponentFailure, whereabouts: Whereabouts | None) -> None:
        super().__init__(str(failure))
        self.failure = failure
        self.whereabouts = whereabouts


@dataclass(frozen=True, kw_only=True)
class RunResult:
    sent: list[Sent]
    landing: Landing
    ok: bool
    summary: str
    put_seconds: float
    settle_seconds: float
    check_seconds: float
    latencies: list[float]
    alarms_not_ok: tuple[str, ...] = ()  # the stage's alarms not OK when the round was checked


@dataclass(frozen=True, kw_only=True)
class Latency:
    """End-to-end latency (put to stored) of a round's readings, in seconds."""

    p50: float
    p99: float

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Latency | None:
        """The median and the 99th percentile; None without a reading."""
        if not seconds:
            return None
        ordered = sorted(seconds)
        return cls(p50=statistics.median(ordered), p99=ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))])


@contextmanager
def local_platform(
    *,
    log_path: Path,
    faults: Mapping[str, Any] | None = None,
    assembly_dir: Path | None = None,
    overrides: Mapping[str, str] | None = None,
    port: int = 0,
    stall_seconds: float = DEFAULT_STALL_SECONDS,
    on_failure: Callable[[ComponentFailure], None] | None = None,
    alarm_period_seconds: int | None = None,
) -> Iterator[LocalPlatform]:
    """The emulator with the local stage deployed, its local loops running and its alarms evaluated.

    ``overrides`` are CDK context values on top of the local stage's (``iot.stages.dev.<service>.<field>``); the stage
    is then synthesized into ``assembly_dir`` (required with them) rather than taken from the cache.
    ``alarm_period_seconds`` evaluates every alarm over periods of that length instead of its own (tools/alarms).
    """
    if overrides and assembly_dir is None:
        raise ValueError("a local stage with overrides is synthesized into an assembly_dir of its own")
    with embedded_aws(LOCAL_REGION, port=port, pid_file=PID_FILE) as emulator:
        stage_dir = (
            synthesize_local_stage(assembly_dir, overrides=overrides or {}) if assembly_dir else cached_local_stage()
        )
        deployed = deploy_stage(
            stage_dir,
            _stack_files(stage_dir),
            account=LOCAL_ACCOUNT,
            region=LOCAL_REGION,
            modelled_types=emulator.modelled_types,
        )
        emulator.split()
        platform = LocalPlatform(
            deployed,
            emulator=emulator,
            log_path=log_path,
            faults=faults,
            stall_seconds=stall_seconds,
            on_failure=on_failure,
            alarm_period_seconds=alarm_period_seconds,
        )
        try:
            yield platform
        finally:
            platform.close()


def synthesize_local_stage(outdir: Path, *, overrides: Mapping[str, str] | None = None) -> Path:
    from tools.common.cdk_app import build_from_cdk_json  # noqa: PLC0415 - CDK starts a Node process; only load it here

    app = build_from_cdk_json(outdir=outdir, overrides={**LOCAL_OVERRIDES, **(overrides or {})}, with_pipeline=False)
    app.synth()
    return outdir / f"assembly-{LOCAL_STAGE_ID}"


def cached_local_stage(cache_root: Path = ASSEMBLY_CACHE) -> Path:
    """The local stage's assembly, synthesized once for each content of what goes into a synth.

    A synth is most of a warm run's start-up (the CDK app through jsii, then every cdk-nag pack); an unchanged
    tree reuses the last one. Any change to the app's code, config or locked dependencies synthesizes anew.
    """
    target = cache_root / _synth_inputs_digest()[:20]
    if not (target / ".complete").exists():
        cache_root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix="synth-", dir=cache_root))
        synthesize_local_stage(staging)
        (staging / ".complete").touch()
        for stale in cache_root.iterdir():  # one assembly is enough: the cache is for the next run, not history
            if stale != staging:
                shutil.rmtree(stale, ignore_errors=True)
        staging.rename(target)
    return target / f"assembly-{LOCAL_STAGE_ID}"


def _synth_inputs_digest() -> str:
    digest = hashlib.sha256(json.dumps(LOCAL_OVERRIDES, sort_keys=True).encode())
    for name in SYNTH_INPUTS:
        path = REPO_ROOT / name
        files = (
            sorted(f for f in path.rglob("*") if f.is_file() and "__pycache__" not in f.parts)
            if path.is_dir()
            else [path]
        )
        for file in files:
            digest.update(str(file.relative_to(REPO_ROOT)).encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()


def _stack_files(stage_dir: Path) -> dict[str, str]:
    stems = sorted(path.name.removesuffix(".template.json") for path in stage_dir.glob("*.template.json"))
    # The stage names each service's stack by the service (IotStage: ``Ingest``, ...); so does the template's file.
    return {service: next(stem for stem in stems if pascal_case(service) in stem) for service in SERVICES}


class LocalPlatform:
    def __init__(
        self,
        deployed: DeployedStage,
        *,
        emulator: Emulator,
        log_path: Path,
        faults: Mapping[str, Any] | None,
        stall_seconds: float = DEFAULT_STALL_SECONDS,
        on_failure: Callable[[ComponentFailure], None] | None = None,
        account: str = LOCAL_ACCOUNT,
        archive_buffer_seconds: int | None = None,
        alarm_period_seconds: int | None = None,
    ) -> None:
        """``account``: where the stage is deployed (boto3's default session must hold credentials there);
        ``archive_buffer_seconds``: the Firehose buffer interval instead of the template's (the pipeline rehearsal's
        smoke tests wait for the archive, and prod buffers five minutes)."""
        self.deployed = deployed
        self._emulator = emulator
        self.endpoint = emulator.endpoint
        self._put = 0
        self.metrics = MetricPublisher()
        self.monitoring: StageMonitoring = stage_monitoring(deployed, account=account, region=LOCAL_REGION)
        self.alarms = AlarmWatch(self.monitoring.alarms, self.metrics, period_override=alarm_period_seconds)
        ingest, archive = deployed.stacks[ingest_contract.SERVICE], deployed.stacks[archive_contract.SERVICE]
        self.targets = Targets.from_outputs(ingest.outputs, archive.outputs)
        mapping = MappingSettings.from_stack(ingest)
        shards = len(shard_ids(boto3.client("kinesis"), mapping.stream_name))
        self.log_path = log_path
        self._log = log_path.open("a", encoding="utf-8")
        self.function = LocalFunction(
            function_name=mapping.function_name,
            qualifier=mapping.alias_name,
            code=deployed_code(ingest, mapping.function_logical_id, account=account, region=LOCAL_REGION),
            concurrency=min(MAX_WORKERS, shards * mapping.parallelization_factor),
            log=self._log,
            faults=faults,
            metrics=self.metrics,
        )
        self.mapping = LocalEventSourceMapping(mapping, self.function, metrics=self.metrics)
        delivery = DeliverySettings.from_stack(archive)
        if archive_buffer_seconds is not None:
            delivery = dataclasses.replace(delivery, buffer_seconds=archive_buffer_seconds)
        self.firehose = LocalFirehose(delivery, metrics=self.metrics)
        # SNS alerts can be read here: a queue subscribed to the alert topic lets the checks see every alert.
        self.checks = Checks(
            archive=True, alerts=_subscribe_inbox(ingest.outputs[ingest_contract.Output.ALERT_TOPIC_ARN])
        )
        self.metrics.start()
        self.mapping.start()
        self.firehose.start()
        self.alarms.start()
        self.watchdog = Watchdog(
            sources=[
                emulator.failures,
                self.function.failures,
                self.mapping.failures,
                self.firehose.failures,
                self.metrics.failures,
                self.alarms.failures,
            ],
            progress=self.whereabouts,
            stall_seconds=stall_seconds,
            on_failure=on_failure or _ignore,
        )
        self.watchdog.start()
        self.round_start = self.whereabouts()

    def whereabouts(self) -> Whereabouts:
        """How far every reading put so far got."""
        return Whereabouts(
            put=self._put,
            read=self.mapping.records_read,
            settled=self.mapping.stats.settled,
            archived=self.firehose.stats.delivered,
        )

    def failed(self) -> PlatformError | None:
        """The failure the watchdog found, with where this round's readings were then."""
        failure = self.watchdog.check()
        return None if failure is None else PlatformError(failure, self.whereabouts() - self.round_start)

    def settled(self, through: StreamPositions) -> bool:
        """Both consumers have read past ``through`` and the function has settled every batch it was given."""
        return self.mapping.idle(through) and self.firehose.caught_up(through)

    def settle(self, through: StreamPositions, *, timeout: float = SETTLE_TIMEOUT_SECONDS) -> None:
        """Wait until both loops are past ``through`` and every batch is settled; then deliver what Firehose holds."""
        self.watchdog.expect_progress(True)
        try:
            self._wait_until_settled(through, timeout=timeout)
        finally:
            self.watchdog.expect_progress(False)
        self.firehose.drain()

    def service(self) -> LocalService:
        """How another tool reaches this platform: the emulator's endpoints and the stage's outputs."""
        return LocalService(
            endpoint=self.endpoint,
            endpoints=dict(self._emulator.endpoints),
            region=LOCAL_REGION,
            outputs={service: stack.outputs for service, stack in self.deployed.stacks.items()},
        )

    def run(
        self,
        records: Sequence[SyntheticRecord],
        *,
        rate: float | None = None,
        progress: bool = True,
        producer: str = "plain",
        after_put: Callable[[], None] | None = None,
    ) -> RunResult:
        """Put ``records`` as ``producer`` does, wait until both loops have settled, then check where each landed.
        ``after_put`` is called once every record is put, before the wait (make chaos ends a fault there)."""
        started = time.monotonic()
        self.round_start = self.whereabouts()
        put = PRODUCERS[producer]
        self.watchdog.expect_progress(True)
        try:
            sent = put(
                boto3.client("kinesis"),
                self.targets.stream_name,
                records,
                rate=rate,
                progress=progress,
                on_put=self._count_put,
            )
            put_seconds = time.monotonic() - started
            if after_put is not None:
                after_put()
            self._wait_until_settled(last_put(sent), timeout=SETTLE_TIMEOUT_SECONDS)
        finally:
            self.watchdog.expect_progress(False)
        self.firehose.drain()
        settle_seconds = time.monotonic() - started
        landing = wait_for_landing(
            boto3.Session(), self.targets, sent, checks=self.checks, timeout=30, before_poll=self.firehose.drain
        )
        summary, ok = report(sent, landing, checks=self.checks)
        check_seconds = time.monotonic() - started - settle_seconds
        self.publish_storage()
        done = self.mapping.stats.completed_at
        return RunResult(
            sent=sent,
            landing=landing,
            ok=ok,
            summary=summary,
            put_seconds=put_seconds,
            settle_seconds=settle_seconds,
            check_seconds=check_seconds,
            latencies=[done[s.sequence_number] - s.put_at for s in sent if s.sequence_number in done],
        )

    def metric_total(self, metric: str) -> float:
        """The processor's EMF metric ``metric``, summed over every document its invocations logged so far (a
        document holds a list when one flush carried several values)."""
        self._log.flush()
        total = 0.0
        for line in self.log_path.read_text(encoding="utf-8").splitlines():
            if line.startswith("{") and f'"{metric}"' in line:
                value = json.loads(line).get(metric, 0)
                total += sum(value) if isinstance(value, list) else value
        return total

    def dashboard(self, result: RunResult, *, since: float) -> str:
        """The page of the stage's dashboard over the run since ``since`` (epoch seconds), with the round's picture."""
        self.metrics.flush()
        cloudwatch = boto3.client("cloudwatch")
        evaluator = self.alarms.evaluator
        return dashboard_page(
            dashboards=self.monitoring.dashboards,
            source=CloudWatchSource(cloudwatch),
            list_metrics=lambda namespace, name: [
                metric
                for page in cloudwatch.get_paginator("list_metrics").paginate(Namespace=namespace, MetricName=name)
                for metric in page["Metrics"]
            ],
            alarm_states=evaluator.states,
            transitions=evaluator.transitions,
            picture=run_picture(result, completed_at=list(self.mapping.stats.completed_at.values())),
            window=Window(start=since, end=time.time()),
        )

    def publish_storage(self) -> None:
        """The buckets' storage metrics, which S3 publishes once a day: here once a round."""
        s3 = boto3.client("s3")
        for bucket in (self.targets.failure_bucket, self.targets.processed_bucket, self.targets.require_archive()):
            publish_storage(self.metrics, s3, bucket)

    def forget_round(self) -> None:
        """Drop what the last round tracked per record, so --keep-running holds only one round in memory.

        The emulator itself keeps every record, item and object, as the real stream, table and buckets would.
        """
        self.mapping.stats.completed_at.clear()
        if self.checks.alerts is not None:
            self.checks.alerts.reading_ids.clear()

    def _count_put(self, count: int) -> None:
        self._put += count

    def _wait_until_settled(self, through: StreamPositions, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self.settled(through):
            failed = self.failed()
            if failed is not None:
                raise failed
            if time.monotonic() > deadline:
                failure = ComponentFailure(component="the data path", how=f"did not settle within {timeout:.0f} s")
                raise PlatformError(failure, self.whereabouts() - self.round_start)
            time.sleep(0.1)

    def close(self) -> None:
        """Stop every part: in order when healthy; when a part failed, at once, since the others may be stuck in
        requests to it (nothing is left to save: the run has failed)."""
        failed = self.watchdog.failure is not None
        grace = FAILED_STOP_SECONDS if failed else None
        self.watchdog.stop()
        self.alarms.stop(timeout=grace)
        self.mapping.stop(timeout=grace)
        self.firehose.stop(timeout=grace, drain=not failed)
        self.function.close(timeout=grace)
        self.metrics.stop(timeout=grace, flush=not failed)
        self._emulator.stop_at_once = failed
        self._log.close()


def _ignore(_: ComponentFailure) -> None:
    """Without a handler, a failure is found where the run waits (``failed()``, in the settle loop)."""


def _interrupt_main_thread(_: ComponentFailure) -> None:
    """The main thread may be blocked on a request to a part that died: a real signal wakes it (PEP 475), and main()
    finds the failure the watchdog kept."""
    os.kill(os.getpid(), signal.SIGINT)


def _subscribe_inbox(topic_arn: str) -> AlertInbox:
    sqs = boto3.client("sqs")
    queue_url = sqs.create_queue(QueueName="local-alert-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    boto3.client("sns").subscribe(
        TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"}
    )
    return AlertInbox(sqs, queue_url)


def run_picture(result: RunResult, *, completed_at: Sequence[float]) -> RunPicture:
    places = Counter(place for found in result.landing.places.values() for place in found)
    outcomes = {
        "stored": places["table"],
        **{f"quarantined: {reason}": count for reason, count in sorted(result.landing.quarantine_reasons.items())},
        "failure destination": places["failure destination"],
        "not found": len(result.sent) - len(result.landing.places),
    }
    return RunPicture(
        put_at=[sent.put_at for sent in result.sent],
        stored_at=completed_at,
        latencies=result.latencies,
        outcomes=outcomes,
    )


def describe(result: RunResult, platform: LocalPlatform) -> str:
    mapping, firehose = platform.mapping.stats, platform.firehose.stats
    throughput = len(result.sent) / result.settle_seconds if result.settle_seconds else 0.0
    lines = [
        result.summary,
        _row("throughput", f"{throughput:,.0f}", f"readings/s end to end ({len(result.sent)} in "
             f"{result.settle_seconds:.1f} s; put {result.put_seconds:.1f} s; checks {result.check_seconds:.1f} s)"),
        _row("firehose", str(firehose.records), f"records archived, {firehose.errors} to the error prefix, "
             f"{firehose.objects} objects"),
        _row("invocations", str(mapping.invocations), f"(function errors {mapping.function_errors}, partial failures "
             f"{mapping.partial_failures}, bisections {mapping.bisections})"),
    ]  # fmt: skip
    latency = Latency.of(result.latencies)
    if latency is not None:
        lines.append(
            _row("end-to-end latency", "", f"p50 {latency.p50 * 1000:,.0f} ms, p99 {latency.p99 * 1000:,.0f} ms "
                 "(put to stored)")
        )  # fmt: skip
    return "\n".join(lines)


def alarms_not_ok(platform: LocalPlatform) -> list[str]:
    """Every alarm evaluated now; the names of those that are not OK."""
    return [name for name, state in platform.alarms.evaluate_now().items() if state is not State.OK]


def _row(label: str, value: str, detail: str) -> str:
    return f"{label:<28}{value:>8}   {detail}"


def build_workload(
    args: argparse.Namespace, *, count: int, run_id: str, now: datetime, round_: int = 0
) -> list[SyntheticRecord]:
    """``count`` readings of the run's kind; each round its own seed after the run's, so rounds differ."""
    seed = args.seed + round_
    if args.fleet:
        return fleet_records(count, mix=args.fleet, run_id=run_id, now=now, seed=seed, invalid_share=args.invalid_share)
    return synthetic_records(
        count,
        run_id=run_id,
        now=now,
        anomaly_share=args.anomaly_share,
        invalid_share=args.invalid_share,
        seed=seed,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.local.run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--records", type=positive_int, default=10_000, help="synthetic readings to stream (default 10000)"
    )
    parser.add_argument(
        "--rate", type=positive_number, default=None, help="records per second to put (default: as fast as possible)"
    )
    parser.add_argument("--anomaly-share", type=share, help="share of anomalies (default 0.01; not with --fleet)")
    parser.add_argument("--invalid-share", type=share, default=0.01, help="share of invalid records (default 0.01)")
    parser.add_argument(
        "--producer",
        choices=sorted(PRODUCERS),
        default="plain",
        help="plain: one reading per Kinesis record; kpl: aggregated as the KPL does (default plain)",
    )
    parser.add_argument(
        "--round-size",
        type=positive_int,
        default=ROUND_READINGS,
        help=f"readings put, settled and checked together (default {ROUND_READINGS}); more --records are streamed in "
        "rounds of this size, so the runner holds one round at a time",
    )
    parser.add_argument(
        "--keep-running",
        action="store_true",
        help="keep streaming rounds of --records (at most --round-size) until Ctrl-C",
    )
    parser.add_argument(
        "--fleet", type=fleet_mix, help="device profiles and their weights, e.g. steady=70,daily=10,drift=5,stuck=5,"
        "dropout=5,flush=5: readings shaped as real devices send them; anomalies come from drifting devices"
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=7, help="the synthetic data's seed: the same seed, the same fleet")
    parser.add_argument(
        "--log", type=Path, default=Path("reports/local-run.log"), help="processor logs (default reports/local-run.log)"
    )
    parser.add_argument(
        "--port",
        type=port_number,
        default=0,
        help="the emulator's port, to reach it with the AWS CLI while it runs (default: any free port)",
    )
    parser.add_argument(
        "--serve",
        type=Path,
        metavar="FILE",
        help="after a round that passed, keep the platform up for another tool: its endpoints and outputs go to FILE, "
        "each stdin line asks it to settle, the end of stdin stops it (tools/common/local_service.py)",
    )
    parser.add_argument(
        "--stall-seconds",
        type=positive_number,
        default=DEFAULT_STALL_SECONDS,
        help=f"stop when nothing moves this long while readings are outstanding (default {DEFAULT_STALL_SECONDS:g})",
    )
    parser.add_argument(
        "--dashboard",
        type=Path,
        default=Path("reports/dashboard.html"),
        help="where to write the dashboard drawn from the run (default reports/dashboard.html)",
    )
    parser.add_argument(
        "--alarm-period-seconds",
        type=positive_int,
        default=None,
        help="evaluate every alarm over periods of this many seconds instead of its own (default: its own); a run "
        "of seconds then shows what an account shows over minutes",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.fleet and args.anomaly_share is not None:
        parser.error("--anomaly-share does not apply to --fleet: its anomalies come from the drifting devices")
    args.anomaly_share = 0.01 if args.anomaly_share is None else args.anomaly_share
    if args.anomaly_share + args.invalid_share > 1:
        parser.error("--anomaly-share and --invalid-share add up to more than 1")
    if args.serve is not None and args.keep_running:
        parser.error("--serve keeps the platform up after one round; --keep-running streams rounds until Ctrl-C")
    problem = unusable_machine([REPO_ROOT / name for name in WRITABLE] + [args.log.parent])
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_UNUSABLE
    stale = stop_stale(PID_FILE)
    if stale is not None:
        print(f"stopped a stale emulator an earlier run left behind (pid {stale})")
    print("starting the embedded AWS emulator, synthesizing and deploying the local stage ...", flush=True)
    started, wall_clock_start = time.monotonic(), time.time()
    gc.set_threshold(*GC_THRESHOLDS)
    tally = Tally()
    exit_code = 0
    try:
        with local_platform(
            log_path=args.log,
            port=args.port,
            stall_seconds=args.stall_seconds,
            on_failure=_interrupt_main_thread,
            alarm_period_seconds=args.alarm_period_seconds,
        ) as platform:
            stacks = ", ".join(stack.name for stack in platform.deployed.stacks.values())
            print(f"deployed {stacks} in {time.monotonic() - started:.1f} s (the emulator: {platform.endpoint})")
            gc.freeze()  # never scan again what the deploy left: it lives as long as the run
            exit_code = _rounds(platform, args, tally, since=wall_clock_start)
            if args.serve is not None and exit_code == 0:
                exit_code = _serve(platform, args.serve)
            platform.watchdog.stop()  # the rounds are over: nothing more to interrupt
            if exit_code != EXIT_PLATFORM_FAILED:
                objects = copy_archive(
                    boto3.client("s3"),
                    platform.targets.require_archive(),
                    platform.deployed.stacks[archive_contract.SERVICE],
                    LOCAL_ARCHIVE,
                )
                print(f"raw archive: {objects} objects copied to {LOCAL_ARCHIVE} (make query)")
    except PortInUseError as error:
        print(f"error: {error}: another program (or an earlier run) holds it; choose another --port", file=sys.stderr)
        return EXIT_UNUSABLE
    except EmulatorError as error:
        print(f"error: the emulator could not start: {error}", file=sys.stderr)
        return EXIT_PLATFORM_FAILED
    print(f"processor logs: {args.log}; total {time.monotonic() - started:.1f} s")
    return exit_code


@dataclass
class Tally:
    """What the rounds so far came to. A round's readings are dropped once it is checked: the runner holds one
    round at a time, however long the run."""

    rounds: int = 0
    readings: int = 0
    failed_rounds: list[int] = field(default_factory=list)

    def add(self, result: RunResult) -> None:
        self.rounds += 1
        self.readings += len(result.sent)
        if not result.ok or result.alarms_not_ok:
            self.failed_rounds.append(self.rounds)

    def describe(self) -> str:
        failed = ", ".join(map(str, self.failed_rounds))
        verdict = f"FAIL (round {failed})" if self.failed_rounds else "PASS"
        return f"all rounds: {self.readings:,} readings in {self.rounds} round(s): {verdict}"

    @property
    def exit_code(self) -> int:
        return EXIT_CHECKS_FAILED if self.failed_rounds else 0


def round_sizes(records: int, *, round_size: int, keep_running: bool) -> Iterator[int]:
    """How many readings each round puts: ``records`` in rounds of at most ``round_size``; with ``keep_running``,
    rounds of that size without end."""
    if keep_running:
        yield from itertools.repeat(min(records, round_size))
        return
    for first in range(0, records, round_size):
        yield min(round_size, records - first)


def _rounds(platform: LocalPlatform, args: argparse.Namespace, tally: Tally, *, since: float) -> int:
    """Stream rounds of readings until the run is done (or Ctrl-C with --keep-running); the run's exit code. Each
    round is settled and checked before the next; then the alarms are evaluated over the run since ``since`` (epoch
    seconds), and its dashboard is drawn."""
    try:
        for count in round_sizes(args.records, round_size=args.round_size, keep_running=args.keep_running):
            workload = build_workload(
                args, count=count, run_id=f"local-{uuid.uuid4().hex[:8]}", now=datetime.now(UTC), round_=tally.rounds
            )
            result = platform.run(workload, rate=args.rate, producer=args.producer)
            del workload  # the result's sent records hold what is still needed
            print(describe(result, platform), flush=True)
            evaluating = time.monotonic()
            result = replace(result, alarms_not_ok=tuple(alarms_not_ok(platform)))
            report_text = platform.alarms.evaluator.report(since=since)
            print(f"alarms (evaluated over the run in {time.monotonic() - evaluating:.2f} s; changes in seconds "
                  f"after the start):\n{report_text}", flush=True)  # fmt: skip
            drawing = time.monotonic()
            args.dashboard.parent.mkdir(parents=True, exist_ok=True)
            args.dashboard.write_text(platform.dashboard(result, since=since), encoding="utf-8")
            print(f"dashboard: {args.dashboard} (drawn in {time.monotonic() - drawing:.2f} s)", flush=True)
            tally.add(result)
            del result
            platform.forget_round()
    except PlatformError as error:
        _print_failure(error)
        return EXIT_PLATFORM_FAILED
    except KeyboardInterrupt:
        failure = platform.failed()
        if failure is not None:
            _print_failure(failure)
            return EXIT_PLATFORM_FAILED
        print(f"interrupted after {tally.rounds} complete round(s); the round under way had got this far:")
        print((platform.whereabouts() - platform.round_start).describe())
        return EXIT_INTERRUPTED if not args.keep_running or not tally.rounds else tally.exit_code
    except Exception:  # a request to a part that died fails before the watchdog's next look
        failure = platform.failed()
        if failure is None:
            raise
        _print_failure(failure)
        return EXIT_PLATFORM_FAILED
    if tally.rounds > 1:
        print(tally.describe(), flush=True)
    return tally.exit_code


def _serve(platform: LocalPlatform, path: Path) -> int:
    """Answer settle requests on stdin until it closes (tools/common/local_service.py); the run's exit code."""
    platform.service().write(path)
    print(f"serving the local platform for another tool ({path}) until its input closes", flush=True)
    try:
        for line in sys.stdin:
            through = {shard: int(number) for shard, number in json.loads(line)[SETTLE].items()}
            started = time.monotonic()
            platform.settle(through)
            print(json.dumps({SETTLED: round(time.monotonic() - started, 3)}), flush=True)
    except PlatformError as error:
        _print_failure(error)
        return EXIT_PLATFORM_FAILED
    except KeyboardInterrupt:
        failure = platform.failed()
        if failure is None:
            return EXIT_INTERRUPTED
        _print_failure(failure)
        return EXIT_PLATFORM_FAILED
    finally:
        path.unlink(missing_ok=True)
    return 0


def _print_failure(error: PlatformError) -> None:
    print(f"error: {error.failure}; the run stopped", file=sys.stderr)
    if error.whereabouts is not None:
        print("where this round's readings were:", file=sys.stderr)
        print(error.whereabouts.describe(), file=sys.stderr)


def unusable_machine(writable: Sequence[Path]) -> str | None:
    """Why this machine cannot run the local platform, in one line; None when it can."""
    if shutil.which("node") is None:
        return "node is not on PATH: the local run synthesizes the stage with the CDK, which needs Node.js 18 or newer"
    for directory in writable:
        try:
            directory.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=directory, prefix=".writable-"):
                pass
        except OSError as error:
            return f"cannot write to {directory} ({error.strerror}): the local run keeps its stage, code and logs there"
    return None


if __name__ == "__main__":
    sys.exit(main())
