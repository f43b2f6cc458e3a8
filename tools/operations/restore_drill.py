"""Restore drill: bring the readings table back two ways on the local platform, prove it item by item, and say what
that means at prod's volume.

    python -m tools.operations.restore_drill [--records 2000] [--late 50] [--incident 20] [--seed 7]

It starts the local platform (``python -m tools.local.run --records N --serve``, the whole data path: that run's own
round must pass first), then:
0. puts --late readings that a device had buffered for two days: their items expire as they are stored (a synthetic
   reading keeps a day), and the drill plays DynamoDB's TTL, which deletes an expired item within days, at once;
1. point in time: scans the table as the run left it, at T; an incident then overwrites --incident items and deletes
   as many; the table is restored as of T into a new table and compared item by item with the scan;
2. rebuild: the table is lost (deleted, then created again, empty, with the same definition, as a redeploy would);
   every archived reading of the drill's time range is replayed into the stream (tools/operations/replay.py) and the
   processor stores it again; the rebuilt table is compared item by item with the scan, except where a rebuilt table
   differs by contract (REBUILD_EXCEPTIONS, each listed with its count).
For each path it prints the items compared, the differences (none outside the listed exceptions), how long it took,
and the recovery point and time it demonstrates, scaled to prod's volume (prod's settings in cdk.json; the runbook
shows the arithmetic: docs/runbooks.md#restore-the-readings-table). Exits 0 when neither path differs and the drill saw
its own incident, 1 otherwise, 2 on a bad argument, 3 when the local platform could not run.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from services.iot_archive import contract as archive
from services.iot_processor import contract as ingest
from shared.config import committed_context
from shared.synthetic.readings import synthetic_records
from stages.config import StageConfig, load_stage
from tools.common.arguments import positive_int
from tools.common.local_service import LocalRun, LocalRunError
from tools.landing.producers import last_put, put_records
from tools.landing.targets import Targets
from tools.operations import replay

EXIT_DIFFERENT, EXIT_BAD_ARGUMENTS, EXIT_PLATFORM_FAILED = 1, 2, 3
Key = tuple[str, str]
Item = dict[str, Any]  # DynamoDB's wire format
Items = dict[Key, Item]
# A late device's buffer: older than a synthetic reading's TTL (a day), so its items have expired when stored.
LATE_BY = timedelta(days=2)
INCIDENT_VALUE = {"N": "-999"}  # what the incident writes over a reading's value
MAX_LISTED = 10
RESTORE_TIME_RESOLUTION = 0.002  # seconds: RestoreDateTime travels in milliseconds
# DynamoDB restores to any second up to its latest restorable time, which trails the present by about five minutes.
PITR_LATEST_LAG_SECONDS = 300
# What a table rebuilt from the raw archive may hold differently from the table it replaces. An item is built from its
# reading alone (the ingest contract: keys, values, flags and its expiry, event time + TTL), so only what time did to
# the table differs.
EXPIRED = "expired (TTL)"
REBUILD_EXCEPTIONS = {
    EXPIRED: f"an item whose {ingest.TTL_ATTRIBUTE} has passed: DynamoDB's TTL deletes it from the table within days, "
    "while the archive keeps its reading, so a rebuild stores it again until TTL deletes it once more",
}


# --- the table, item by item -----------------------------------------------------------------------------------------


def key_of(item: Item) -> Key:
    return item[ingest.PARTITION_KEY]["S"], item[ingest.SORT_KEY]["S"]


def scan_items(dynamodb: Any, table: str) -> Items:
    """Every item of ``table``, by its key (a consistent read: the drill writes and reads back at once)."""
    items: Items = {}
    for page in dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        items.update((key_of(item), item) for item in page["Items"])
    return items


def expired(item: Item, *, now: float) -> bool:
    expires_at = item.get(ingest.TTL_ATTRIBUTE, {}).get("N")
    return expires_at is not None and float(expires_at) <= now


@dataclass
class Comparison:
    """Two tables, item by item: what only one holds, what differs (with the attributes), what an exception covers."""

    compared: int = 0
    missing: list[Key] = field(default_factory=list)  # expected, not found
    extra: list[Key] = field(default_factory=list)  # found, not expected
    changed: dict[Key, list[str]] = field(default_factory=dict)  # in both, these attributes differ
    excepted: Counter[str] = field(default_factory=Counter)  # by exception: items it covers

    @property
    def differences(self) -> int:
        return len(self.missing) + len(self.extra) + len(self.changed)

    def examples(self) -> list[str]:
        found = [
            *(f"missing {key}" for key in self.missing),
            *(f"not expected {key}" for key in self.extra),
            *(f"{key} differs in {', '.join(attributes)}" for key, attributes in self.changed.items()),
        ]
        return found[:MAX_LISTED] + ([f"... and {len(found) - MAX_LISTED} more"] if len(found) > MAX_LISTED else [])


ExceptionRule = Callable[[Item], str | None]  # the name of the exception that covers an item, or None


def no_exception(_: Item) -> str | None:
    return None


def compare(expected: Items, actual: Items, *, exception: ExceptionRule = no_exception) -> Comparison:
    """Every key either side holds; a key whose item (on either side) an exception covers is counted under it."""
    result = Comparison()
    for key in sorted(expected.keys() | actual.keys()):
        result.compared += 1
        wanted, found = expected.get(key), actual.get(key)
        covered = next((name for item in (wanted, found) if item is not None and (name := exception(item))), None)
        if covered is not None:
            result.excepted[covered] += 1
        elif found is None:
            result.missing.append(key)
        elif wanted is None:
            result.extra.append(key)
        elif found != wanted:
            result.changed[key] = sorted(a for a in wanted.keys() | found.keys() if wanted.get(a) != found.get(a))
    return result


def rebuild_exception(now: float) -> ExceptionRule:
    """REBUILD_EXCEPTIONS as of ``now``."""

    def covering(item: Item) -> str | None:
        return EXPIRED if expired(item, now=now) else None

    return covering


# --- what the drill does to the table --------------------------------------------------------------------------------


def play_ttl(dynamodb: Any, table: str, items: Items, *, now: float) -> int:
    """Delete every item that has expired, as DynamoDB's TTL does within days (the emulator keeps them); how many."""
    gone = [key for key, item in items.items() if expired(item, now=now)]
    for partition, sort in gone:
        dynamodb.delete_item(
            TableName=table, Key={ingest.PARTITION_KEY: {"S": partition}, ingest.SORT_KEY: {"S": sort}}
        )
    return len(gone)


def incident(dynamodb: Any, table: str, items: Items, *, count: int, seed: int) -> tuple[list[Key], list[Key]]:
    """What point-in-time recovery is for: a bad write. ``count`` items get a wrong value, ``count`` others are
    deleted; the keys of both."""
    chosen = random.Random(seed).sample(sorted(items), 2 * count)  # noqa: S311 - a reproducible drill, not a secret
    overwritten, deleted = chosen[:count], chosen[count:]
    for key in overwritten:
        dynamodb.put_item(TableName=table, Item={**items[key], "value": INCIDENT_VALUE})
    for partition, sort in deleted:
        dynamodb.delete_item(
            TableName=table, Key={ingest.PARTITION_KEY: {"S": partition}, ingest.SORT_KEY: {"S": sort}}
        )
    return overwritten, deleted


def restore_to_point_in_time(dynamodb: Any, *, source: str, target: str, at: datetime) -> None:
    """Restore ``source`` as it was at ``at`` into the new table ``target``, and wait until it can be read."""
    dynamodb.restore_table_to_point_in_time(SourceTableName=source, TargetTableName=target, RestoreDateTime=at)
    dynamodb.get_waiter("table_exists").wait(TableName=target)


def replace_with_empty_table(dynamodb: Any, table: str) -> None:
    """The table is lost: delete it, then create it again, empty, as its stack defines it (keys, index, billing,
    encryption, TTL, point-in-time recovery), under the same name, so the processor writes into it."""
    described = dynamodb.describe_table(TableName=table)["Table"]
    time_to_live = dynamodb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    recovery = dynamodb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
    dynamodb.delete_table(TableName=table)
    dynamodb.get_waiter("table_not_exists").wait(TableName=table)
    dynamodb.create_table(**_definition(described))
    dynamodb.get_waiter("table_exists").wait(TableName=table)
    if time_to_live.get("TimeToLiveStatus") == "ENABLED":
        dynamodb.update_time_to_live(
            TableName=table, TimeToLiveSpecification={"AttributeName": time_to_live["AttributeName"], "Enabled": True}
        )
    if recovery["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED":
        dynamodb.update_continuous_backups(
            TableName=table, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )


def _definition(described: Mapping[str, Any]) -> dict[str, Any]:
    """CreateTable's arguments for a table as DescribeTable describes it."""
    on_demand = described.get("BillingModeSummary", {}).get("BillingMode") == "PAY_PER_REQUEST"

    def throughput(of: Mapping[str, Any]) -> dict[str, Any]:
        if on_demand:
            return {}
        units = of["ProvisionedThroughput"]
        return {"ProvisionedThroughput": {k: units[k] for k in ("ReadCapacityUnits", "WriteCapacityUnits")}}

    definition: dict[str, Any] = {
        "TableName": described["TableName"],
        "KeySchema": described["KeySchema"],
        "AttributeDefinitions": described["AttributeDefinitions"],
        "BillingMode": "PAY_PER_REQUEST" if on_demand else "PROVISIONED",
        **throughput(described),
    }
    indexes = [
        {
            "IndexName": index["IndexName"],
            "KeySchema": index["KeySchema"],
            "Projection": index["Projection"],
            **throughput(index),
        }
        for index in described.get("GlobalSecondaryIndexes", [])
    ]
    if indexes:
        definition["GlobalSecondaryIndexes"] = indexes
    encryption = described.get("SSEDescription", {})
    if encryption.get("SSEType") == "KMS":
        definition["SSESpecification"] = {
            "Enabled": True,
            "SSEType": "KMS",
            "KMSMasterKeyId": encryption["KMSMasterKeyArn"],
        }
    return definition


def event_times(items: Items) -> list[datetime]:
    return [datetime.fromisoformat(item["event_time"]["S"]) for item in items.values()]


# --- prod's volume ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ProdVolume:
    """What the drill's figures scale to: the stage's expected load and settings (cdk.json)."""

    name: str
    readings_per_second: float
    invalid_share: float
    anomaly_share: float
    ttl_days: int
    anomaly_ttl_days: int
    stream_capacity: float | None  # records/s the stream takes (provisioned shards); None: on demand
    archive_lag_seconds: int  # Firehose's buffer interval: how far the archive trails the stream
    stream_retention_hours: int

    @classmethod
    def of(cls, stage: StageConfig) -> ProdVolume:
        ingest_config, load = stage.ingest, stage.expected_load
        return cls(
            name=stage.name,
            readings_per_second=load.readings_per_second,
            invalid_share=load.invalid_share,
            anomaly_share=load.anomaly_share,
            ttl_days=ingest_config.table_ttl_days,
            anomaly_ttl_days=ingest_config.anomaly_ttl_days,
            stream_capacity=(
                ingest_config.shard_count * KINESIS_RECORDS_PER_SHARD
                if ingest_config.stream_mode == "provisioned"
                else None
            ),
            archive_lag_seconds=stage.archive.buffer_interval_seconds,
            stream_retention_hours=ingest_config.retention_hours,
        )

    @property
    def table_items(self) -> float:
        """Every stored reading until its TTL: plain readings for ttl_days, anomalies for anomaly_ttl_days."""
        plain = self.readings_per_second * (1 - self.invalid_share - self.anomaly_share) * self.ttl_days
        anomalies = self.readings_per_second * self.anomaly_share * self.anomaly_ttl_days
        return (plain + anomalies) * SECONDS_PER_DAY

    def table_items_arithmetic(self) -> str:
        return (
            f"{self.readings_per_second:,.0f} readings/s x 86,400 s x ({1 - self.invalid_share - self.anomaly_share:g} "
            f"plain x {self.ttl_days} d + {self.anomaly_share:g} anomalies x {self.anomaly_ttl_days} d) "
            f"= {self.table_items:,.0f} items"
        )

    @property
    def replay_capacity(self) -> float | None:
        """Records/s a replay can add beside the live load: the stream's capacity less what producers put."""
        return None if self.stream_capacity is None else self.stream_capacity - self.readings_per_second


KINESIS_RECORDS_PER_SHARD = 1000  # records/s a shard takes
SECONDS_PER_DAY = 86400


def duration(seconds: float) -> str:
    """Seconds as a person reads them: 42 s, 17 min, 9.4 h, 11.7 days."""
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * SECONDS_PER_DAY:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / SECONDS_PER_DAY:.1f} days"


# --- the drill ----------------------------------------------------------------------------------------------------


@dataclass
class PathResult:
    """One way back: what was compared, and what it took."""

    name: str
    comparison: Comparison
    seconds: dict[str, float]  # step -> seconds, in order
    lines: list[str] = field(default_factory=list)  # what it demonstrates, scaled

    @property
    def total_seconds(self) -> float:
        return sum(self.seconds.values())


@dataclass
class DrillResult:
    point_in_time: PathResult
    rebuild: PathResult
    incident_seen: int  # differences between the scan and the damaged table: the compare sees what it must
    incident_made: int

    @property
    def ok(self) -> bool:
        return (
            self.point_in_time.comparison.differences == 0
            and self.rebuild.comparison.differences == 0
            and self.incident_seen == self.incident_made
        )


class Drill:
    """The two ways back, on a stage reached through ``session``; ``settle`` waits until the processor and the
    archive are past given stream positions (the local run answers it)."""

    def __init__(
        self,
        session: boto3.Session,
        targets: Targets,
        *,
        settle: Callable[[Mapping[str, int]], float],
        volume: ProdVolume,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._dynamodb = session.client("dynamodb")
        self._kinesis = session.client("kinesis")
        self._s3 = session.client("s3")
        self._targets = targets
        self._settle = settle
        self._volume = volume
        self._clock = clock

    def put_late_readings(self, count: int, *, seed: int) -> int:
        """A device's two-day-old buffer, stored (and archived) by the data path; then DynamoDB's TTL, played: how
        many expired items it deleted."""
        late = synthetic_records(
            count,
            run_id=f"drill-late-{uuid.uuid4().hex[:8]}",
            now=datetime.now(UTC) - LATE_BY,
            anomaly_share=0,
            invalid_share=0,
            seed=seed,
        )
        sent = put_records(self._kinesis, self._targets.stream_name, late, progress=False)
        self._settle(last_put(sent))
        table = self._targets.table_name
        return play_ttl(self._dynamodb, table, scan_items(self._dynamodb, table), now=self._clock())

    def point_in_time(self, snapshot: Items, at: datetime, *, incident_size: int, seed: int) -> tuple[PathResult, int]:
        """Damage the table after ``at``, restore it as of ``at`` into a new table, compare with ``snapshot``; the
        result, and the differences the incident made in the live table (the compare must see every one)."""
        table = self._targets.table_name
        overwritten, deleted = incident(self._dynamodb, table, snapshot, count=incident_size, seed=seed)
        damage = compare(snapshot, scan_items(self._dynamodb, table)).differences
        restored = f"{table}-restored-{at:%Y%m%d%H%M%S}"
        started = time.monotonic()
        restore_to_point_in_time(self._dynamodb, source=table, target=restored, at=at)
        restore_seconds = time.monotonic() - started
        comparison = compare(snapshot, scan_items(self._dynamodb, restored))
        seconds = {"restore": restore_seconds, "compare": time.monotonic() - started - restore_seconds}
        result = PathResult("point in time", comparison, seconds)
        volume, items = self._volume, max(1, len(snapshot))
        rate = items / max(restore_seconds, 1e-6)
        result.lines = [
            f"restored as of {at.isoformat(timespec='milliseconds')} into {restored}, after an incident that "
            f"overwrote {len(overwritten)} items and deleted {len(deleted)} ({damage} differences in the live table)",
            "recovery point: T itself, every write up to it restored (0 readings lost); in AWS the latest restorable "
            f"time trails the present by about {PITR_LATEST_LAG_SECONDS // 60} min, and what came after is replayed "
            f"from the archive: {volume.readings_per_second * PITR_LATEST_LAG_SECONDS:,.0f} readings at "
            f"{volume.name}'s {volume.readings_per_second:,.0f} readings/s, none lost",
            f"recovery time at {volume.name}'s volume: {volume.table_items_arithmetic()}; at this drill's rate "
            f"({items:,} items in {restore_seconds:.2f} s, {rate:,.0f} items/s) that is "
            f"{duration(volume.table_items / rate)}: the emulator copies in memory, AWS restores partition by "
            "partition, so a staging restore gives the real rate (runbook)",
        ]
        return result, damage

    def rebuild(self, snapshot: Items, *, start: datetime, end: datetime) -> PathResult:
        """Lose the table, replay the archive's readings of [start, end) through the stream, compare with
        ``snapshot`` under REBUILD_EXCEPTIONS."""
        table, seconds = self._targets.table_name, {}
        started = time.monotonic()
        replace_with_empty_table(self._dynamodb, table)
        seconds["empty table"] = time.monotonic() - started
        summary = replay.Summary(source=f"s3://{self._targets.require_archive()}/{archive.READINGS_PREFIX}")
        records = replay.archive_records(self._s3, self._targets.require_archive(), start, end, summary)
        replay.replay(self._kinesis, self._targets.stream_name, records, summary, progress=False)
        seconds["replay"] = time.monotonic() - started - seconds["empty table"]
        seconds["processor"] = self._settle(summary.through)
        before_compare = time.monotonic()
        comparison = compare(snapshot, scan_items(self._dynamodb, table), exception=rebuild_exception(self._clock()))
        seconds["compare"] = time.monotonic() - before_compare
        result = PathResult("rebuild from the archive", comparison, seconds)
        volume = self._volume
        rate = summary.put / max(seconds["replay"] + seconds["processor"], 1e-6)
        hour = volume.readings_per_second * 3600
        whole = volume.readings_per_second * volume.ttl_days * SECONDS_PER_DAY
        result.lines = [
            f"replayed [{start.isoformat(timespec='milliseconds')}, {end.isoformat(timespec='milliseconds')}): "
            f"{summary.objects_read} archive objects, {summary.readings_found:,} readings put again, "
            f"{len(summary.malformed)} lines skipped as not a reading",
            "recovery point: the archive, which holds every reading Firehose delivered; it trails the stream by "
            f"Firehose's buffer ({volume.archive_lag_seconds} s at {volume.name}), and the stream keeps "
            f"{volume.stream_retention_hours} h, so a newer reading is replayed once it is delivered: 0 readings lost",
            f"recovery time at {volume.name}'s volume, at this drill's rate ({summary.put:,} readings in "
            f"{seconds['replay'] + seconds['processor']:.1f} s, {rate:,.0f}/s): one hour of readings "
            f"({hour:,.0f}) {duration(hour / rate)}",
        ]
        capacity = volume.replay_capacity
        if capacity is not None and volume.stream_capacity is not None:
            result.lines.append(
                f"at {volume.name}'s spare stream capacity ({volume.stream_capacity:,.0f} records/s - "
                f"{volume.readings_per_second:,.0f} live = {capacity:,.0f}/s): one hour {duration(hour / capacity)}, "
                f"the {volume.ttl_days} days a plain reading stays ({whole:,.0f}) {duration(whole / capacity)}: "
                "a time range comes back from the archive, the whole table from a restore"
            )
        return result


def report(result: PathResult) -> str:
    comparison = result.comparison
    steps = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in result.seconds.items())
    lines = [
        result.name,
        f"  {'items compared':<20}{comparison.compared:>10,}",
        f"  {'differences':<20}{comparison.differences:>10,}",
        *(f"    {example}" for example in comparison.examples()),
    ]
    for name, count in comparison.excepted.items():
        lines.append(f"  {'exception':<20}{count:>10,}   {name}: {REBUILD_EXCEPTIONS.get(name, '')}")
    lines.append(f"  {'took':<20}{result.total_seconds:>9.2f} s   {steps}")
    lines += [f"  {line}" for line in result.lines]
    return "\n".join(lines)


def run_drill(
    drill: Drill, session: boto3.Session, targets: Targets, *, late: int, incident_size: int, seed: int
) -> DrillResult:
    dynamodb = session.client("dynamodb")
    expired_items = drill.put_late_readings(late, seed=seed)
    snapshot = scan_items(dynamodb, targets.table_name)
    at = datetime.now(UTC)  # after the scan and before the incident: the table as scanned
    time.sleep(RESTORE_TIME_RESOLUTION)  # the incident's writes fall after T's millisecond, which the API keeps
    print(f"the table as the run left it: {len(snapshot):,} items ({expired_items} expired items deleted, as TTL does)")
    point_in_time, seen = drill.point_in_time(snapshot, at, incident_size=incident_size, seed=seed)
    times = event_times(snapshot)
    start = min(*times, datetime.now(UTC) - LATE_BY - timedelta(minutes=1))  # the late readings included
    rebuilt = drill.rebuild(snapshot, start=start, end=max(times) + timedelta(milliseconds=1))
    return DrillResult(
        point_in_time=point_in_time, rebuild=rebuilt, incident_seen=seen, incident_made=2 * incident_size
    )


@contextlib.contextmanager
def environment(variables: Mapping[str, str]) -> Iterator[None]:
    """``variables`` set for the drill's AWS clients, and the process's own back afterwards."""
    previous = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.operations.restore_drill",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--records", type=positive_int, default=2000, help="readings the local run streams first (default 2000)"
    )
    parser.add_argument(
        "--late", type=positive_int, default=50, help="two-day-old readings, expired once stored (default 50)"
    )
    parser.add_argument(
        "--incident", type=positive_int, default=20, help="items the incident overwrites, and deletes (default 20)"
    )
    parser.add_argument("--seed", type=int, default=7, help="which items the incident picks (default 7)")
    parser.add_argument("--scale-to", default="prod", help="the stage of cdk.json whose volume the figures scale to")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if 2 * args.incident > args.records // 2:
        parser.error(f"--incident {args.incident} would damage more than half of {args.records} readings")
    try:
        volume = ProdVolume.of(load_stage(committed_context(), args.scale_to))
    except ValueError as error:  # ConfigError: an unknown stage, or a bad setting
        parser.error(f"--scale-to {args.scale_to}: {error}")
    print(f"starting the local platform with {args.records} readings ...", flush=True)
    try:
        with LocalRun(["--records", str(args.records)]) as local:
            service = local.service
            with environment(service.environment()):
                session = boto3.Session()
                targets = Targets.from_outputs(service.outputs[ingest.SERVICE], service.outputs[archive.SERVICE])
                drill = Drill(session, targets, settle=local.settle, volume=volume)
                result = run_drill(drill, session, targets, late=args.late, incident_size=args.incident, seed=args.seed)
    except LocalRunError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_PLATFORM_FAILED
    print(report(result.point_in_time))
    print(report(result.rebuild))
    if result.incident_seen != result.incident_made:
        print(
            f"DRILL FAILED: the incident changed {result.incident_made} items, the compare saw {result.incident_seen}",
            file=sys.stderr,
        )
    verdict = "PASS" if result.ok else "FAIL"
    print(f"restore drill: {verdict}")
    return 0 if result.ok else EXIT_DIFFERENT


if __name__ == "__main__":
    sys.exit(main())
