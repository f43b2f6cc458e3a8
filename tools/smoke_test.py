"""Smoke test of a deployed stage: put synthetic readings, then prove where every one of them landed.

    python -m tools.smoke_test --stage dev [--role-arn ARN] [--records 200] [--timeout 900]

The same checks as the local run: valid readings must be in the readings table (anomalies flagged), invalid
records in quarantine with the expected reason, every record in the raw archive (readings in the partition of
their own event time, unpartitionable records under the error prefix), and every anomaly alerted (read from
the stage's alert inbox, a queue subscribed to the alert topic that admits only smoke-test runs). A record that
went to the processor's failure destination is reported there. Where the stage has the MQTT front door, a
few more readings are published through AWS IoT Core and must reach the table too (tools/smoke_mqtt.py;
--skip-mqtt). Exits 1 with the list of what is missing, and where.
Targets come from the stage's stack outputs (iot-<stage>-ingest, iot-<stage>-archive), or from the
pipeline's environment variables (INGEST_STREAMNAME, ...) with --from-environment.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import os
import re
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

import boto3
from tqdm import tqdm

from services.iot_archive import contract as archive
from services.iot_processor.contract import PARTITION_KEY, QUARANTINE_PREFIX, SORT_KEY, record_name
from shared.infra.naming import SMOKE_RUN_PREFIX, stack_name
from shared.readings.schema import parse_reading
from shared.synthetic.readings import SyntheticRecord, synthetic_records
from tools.aws_session import session_for

# The archive's layout (services/iot_archive/infra/delivery.py; a test keeps the two in step).
_ISO_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
PUT_BATCH = 500
PUT_ATTEMPTS = 8
GET_BATCH = 100
TABLE_READERS = 3


@dataclass(frozen=True, kw_only=True)
class Targets:
    stream_name: str
    table_name: str
    processed_bucket: str
    failure_bucket: str
    archive_bucket: str | None
    alert_inbox_url: str | None = None

    @classmethod
    def from_outputs(cls, ingest: Mapping[str, str], archive: Mapping[str, str] | None) -> Targets:
        missing = [
            k for k in ("StreamName", "TableName", "ProcessedBucketName", "FailureBucketName") if not ingest.get(k)
        ]
        if missing:
            raise SystemExit(f"error: the ingest stack has no outputs {missing}")
        return cls(
            stream_name=ingest["StreamName"],
            table_name=ingest["TableName"],
            processed_bucket=ingest["ProcessedBucketName"],
            failure_bucket=ingest["FailureBucketName"],
            archive_bucket=(archive or {}).get("RawBucketName"),
            alert_inbox_url=ingest.get("AlertInboxUrl"),
        )

    @classmethod
    def from_stage(cls, session: boto3.Session, stage: str) -> Targets:
        cloudformation = session.client("cloudformation")

        def outputs(service: str) -> dict[str, str]:
            stack = cloudformation.describe_stacks(StackName=stack_name(stage, service))["Stacks"][0]
            return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}

        return cls.from_outputs(outputs("ingest"), outputs("archive"))

    @classmethod
    def from_environment(cls, environment: Mapping[str, str]) -> Targets:
        ingest = {
            key: environment.get(f"INGEST_{key.upper()}", "")
            for key in ("StreamName", "TableName", "ProcessedBucketName", "FailureBucketName", "AlertInboxUrl")
        }
        return cls.from_outputs(ingest, {"RawBucketName": environment.get("ARCHIVE_RAWBUCKETNAME", "")})


@dataclass(frozen=True, kw_only=True)
class Sent:
    record: SyntheticRecord
    shard_id: str
    sequence_number: str
    put_at: float
    sub_record: int | None = None  # the reading's index inside a KPL aggregate


@dataclass
class Landing:
    """Where each sent record (by index) was found."""

    places: dict[int, set[str]] = field(default_factory=dict)
    problems: dict[int, str] = field(default_factory=dict)  # found, but wrong (anomaly not flagged, wrong reason)
    quarantine_reasons: Counter[str] = field(default_factory=Counter)

    def add(self, index: int, place: str) -> None:
        self.places.setdefault(index, set()).add(place)

    @classmethod
    def merged(cls, parts: Sequence[Landing]) -> Landing:
        whole = cls()
        for part in parts:
            for index, places in part.places.items():
                whole.places.setdefault(index, set()).update(places)
            whole.problems.update(part.problems)
            whole.quarantine_reasons.update(part.quarantine_reasons)
        return whole


def put_records(
    kinesis: Any,
    stream_name: str,
    records: Sequence[SyntheticRecord],
    *,
    rate: float | None = None,
    progress: bool = True,
) -> list[Sent]:
    """PutRecords in batches of 500, retrying failed entries; optional rate limit in records/s."""
    sent: list[Sent] = []
    started = time.monotonic()
    with tqdm(total=len(records), desc="put", unit="rec", disable=not progress) as bar:
        for start in range(0, len(records), PUT_BATCH):
            pending = list(enumerate(records[start : start + PUT_BATCH], start=start))
            for attempt in range(PUT_ATTEMPTS):
                response = kinesis.put_records(
                    StreamName=stream_name,
                    Records=[{"Data": r.data, "PartitionKey": r.partition_key} for _, r in pending],
                )
                now = time.time()
                retry = []
                for (index, record), entry in zip(pending, response["Records"], strict=True):
                    if "SequenceNumber" in entry:
                        sent.append(
                            Sent(
                                record=record,
                                shard_id=entry["ShardId"],
                                sequence_number=entry["SequenceNumber"],
                                put_at=now,
                            )
                        )
                    else:
                        retry.append((index, record))
                bar.update(len(pending) - len(retry))
                pending = retry
                if not pending:
                    break
                time.sleep(min(2.0, 0.1 * 2**attempt))
            if pending:
                raise RuntimeError(f"{len(pending)} records could not be put after {PUT_ATTEMPTS} attempts")
            if rate:
                ahead = (start + PUT_BATCH) / rate - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)
    return sent


class AlertInbox:
    """An SQS queue subscribed to the alert topic (raw delivery): which readings were alerted, kept across polls."""

    def __init__(self, sqs: Any, queue_url: str) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self.reading_ids: Counter[str] = Counter()

    def collect(self) -> None:
        while True:
            messages = self._sqs.receive_message(QueueUrl=self._queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return
            for message in messages:
                self.reading_ids[str(json.loads(message["Body"]).get("reading_id"))] += 1
            self._sqs.delete_message_batch(
                QueueUrl=self._queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )


@dataclass(frozen=True, kw_only=True)
class Checks:
    """What beyond the table and the quarantine is checked: the raw archive, and alerts where they can be read."""

    archive: bool = False
    alerts: AlertInbox | None = None


def locate(session: Any, targets: Targets, sent: Sequence[Sent], *, checks: Checks) -> Landing:
    """Where each sent record landed. The places are searched at once: each search waits mostly on its own service."""
    archive_bucket = targets.archive_bucket
    if checks.archive and not archive_bucket:
        raise SystemExit("error: the archive check needs the archive stack's RawBucketName output")
    s3 = session.client("s3")
    searches: list[Callable[[Landing], None]] = [
        partial(_find_in_table, session.client("dynamodb"), targets.table_name, sent),
        partial(_find_in_quarantine, s3, targets.processed_bucket, sent),
        partial(_find_in_failures, s3, targets.failure_bucket, sent),
    ]
    if checks.archive and archive_bucket:
        searches.append(partial(_find_in_archive, s3, archive_bucket, sent))
    if checks.alerts is not None:
        searches.append(partial(_find_alerted, checks.alerts, sent))
    landings = [Landing() for _ in searches]
    with ThreadPoolExecutor(max_workers=len(searches)) as pool:
        for search in [pool.submit(search, landing) for search, landing in zip(searches, landings, strict=True)]:
            search.result()
    return Landing.merged(landings)


def _find_alerted(alerts: AlertInbox, sent: Sequence[Sent], landing: Landing) -> None:
    alerts.collect()
    for index, item in enumerate(sent):
        if item.record.reading_id and alerts.reading_ids[item.record.reading_id]:
            landing.add(index, "alert")


def _find_in_table(dynamodb: Any, table: str, sent: Sequence[Sent], landing: Landing) -> None:
    keys: dict[tuple[str, str], list[int]] = {}
    for index, item in enumerate(sent):
        if item.record.invalid_reason is None:
            reading = parse_reading(item.record.data, now=datetime.fromtimestamp(item.put_at, tz=UTC))
            keys.setdefault((reading.sensor_id, reading.sort_key), []).append(index)
    pending = list(keys)
    chunks = [pending[start : start + GET_BATCH] for start in range(0, len(pending), GET_BATCH)]
    # A few requests in flight: the service answers one while this process parses the last (two processes, two cores
    # on the emulator; overlapping round trips in AWS).
    with ThreadPoolExecutor(max_workers=TABLE_READERS) as pool:
        for stored in pool.map(partial(stored_items, dynamodb, table), chunks):
            for found in stored:
                for index in keys[(found[PARTITION_KEY]["S"], found[SORT_KEY]["S"])]:
                    landing.add(index, "table")
                    if found.get("anomaly", {}).get("BOOL", False) != sent[index].record.anomaly:
                        landing.problems[index] = (
                            f"anomaly flag is {found.get('anomaly')}, expected {sent[index].record.anomaly}"
                        )


def stored_items(dynamodb: Any, table: str, chunk: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    """The items of ``chunk``'s keys that are in the table. Whole items: on the emulator a projection cost more
    (moto evaluates the expression item by item) than the larger answers."""
    request = {table: {"Keys": [{PARTITION_KEY: {"S": p}, SORT_KEY: {"S": s}} for p, s in chunk]}}
    found: list[dict[str, Any]] = []
    while request:
        response = dynamodb.batch_get_item(RequestItems=request)
        found.extend(response["Responses"].get(table, []))
        request = response.get("UnprocessedKeys") or {}
    return found


def _objects(s3: Any, bucket: str, prefix: str, since: float) -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(o["Key"] for o in page.get("Contents", []) if o["LastModified"].timestamp() >= since - 5)
    return keys


def _find_in_quarantine(s3: Any, bucket: str, sent: Sequence[Sent], landing: Landing) -> None:
    by_position = {(s.shard_id, record_name(s.sequence_number, s.sub_record)): i for i, s in enumerate(sent)}
    since = min((s.put_at for s in sent), default=time.time())
    for day in {datetime.fromtimestamp(s.put_at, tz=UTC).date() for s in sent}:
        for key in _objects(s3, bucket, f"{QUARANTINE_PREFIX}{day:%Y/%m/%d}/", since):
            shard_id, file_name = key.split("/")[-2:]
            index = by_position.get((shard_id, file_name.removesuffix(".json")))
            if index is None:
                continue
            document = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
            landing.add(index, "quarantine")
            landing.quarantine_reasons[document["reason"]] += 1
            expected = sent[index].record.invalid_reason
            if document["reason"] != expected:
                landing.problems[index] = f"quarantined for {document['reason']}, expected {expected}"


def _find_in_failures(s3: Any, bucket: str, sent: Sequence[Sent], landing: Landing) -> None:
    since = min((s.put_at for s in sent), default=time.time())
    for key in _objects(s3, bucket, "", since):
        info = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read()).get("KinesisBatchInfo", {})
        first, last = int(info.get("startSequenceNumber", -1)), int(info.get("endSequenceNumber", -1))
        for index, item in enumerate(sent):
            if item.shard_id == info.get("shardId") and first <= int(item.sequence_number) <= last:
                landing.add(index, "failure destination")


def _find_in_archive(s3: Any, bucket: str, sent: Sequence[Sent], landing: Landing) -> None:
    """Match archived lines to sent records, each looked for only where Firehose must have put it: a record with a
    timestamp in the partition of its own event time, any other under the error prefix. Identical records (a
    producer's resend) are matched one by one."""
    by_prefix: dict[str, dict[str | bytes, list[int]]] = {}
    for index, item in enumerate(sent):
        prefix = archive_partition(item.record.data) or archive.ERROR_PREFIX
        by_prefix.setdefault(prefix, {}).setdefault(item.record.reading_id or item.record.data, []).append(index)
    since = min((s.put_at for s in sent), default=time.time())
    for prefix, unmatched in sorted(by_prefix.items()):
        for key in _objects(s3, bucket, prefix, since):
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            for line in (gzip.decompress(body) if key.endswith(".gz") else body).splitlines():
                indices = unmatched.get(_archive_identity(line), [])
                if indices:
                    landing.add(indices.pop(0), "archive")


def archive_partition(data: bytes) -> str | None:
    """``readings/year=YYYY/month=MM/day=DD/hour=HH/`` of a record's own timestamp, as the archive's Firehose
    partitions it (epoch milliseconds, or ISO-8601 with Z or an offset, in UTC); None when it has no usable one."""
    try:
        document = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    stamp = document.get("timestamp") if isinstance(document, dict) else None
    if isinstance(stamp, int | float) and not isinstance(stamp, bool):
        moment = datetime.fromtimestamp(stamp / 1000, tz=UTC)
    elif isinstance(stamp, str) and _ISO_TIMESTAMP.fullmatch(stamp):
        moment = datetime.fromisoformat(stamp).astimezone(UTC)
    else:
        return None
    return archive.partition_prefix(moment)


def _archive_identity(line: bytes) -> str | bytes:
    """A reading's id, or for a record Firehose could not partition (an error record) its original bytes."""
    try:
        document = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return line
    if not isinstance(document, dict):
        return line
    if "rawData" in document:
        raw = base64.b64decode(document["rawData"])
        return _reading_id(raw) or raw
    return str(document.get("reading_id")) if document.get("reading_id") else line


def _reading_id(raw: bytes) -> str | None:
    try:
        document = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return str(document["reading_id"]) if isinstance(document, dict) and document.get("reading_id") else None


def expected_places(record: SyntheticRecord, *, checks: Checks) -> set[str]:
    wanted = {"quarantine" if record.invalid_reason else "table"}
    if checks.archive:
        wanted.add("archive")
    if checks.alerts is not None and record.anomaly:
        wanted.add("alert")
    return wanted


def missing(sent: Sequence[Sent], landing: Landing, *, checks: Checks) -> dict[int, str]:
    """Records not (yet) accounted for, with what is missing; a failure-destination landing accounts for one."""
    result = {}
    for index, item in enumerate(sent):
        found = landing.places.get(index, set())
        wanted = expected_places(item.record, checks=checks)
        if "failure destination" in found:
            wanted -= {"table", "quarantine", "alert"}
        absent = wanted - found
        if absent:
            result[index] = ", ".join(sorted(absent))
    return result


def wait_for_landing(
    session: Any,
    targets: Targets,
    sent: Sequence[Sent],
    *,
    checks: Checks,
    timeout: float,
    poll: float = 2.0,
    before_poll: Callable[[], None] | None = None,
) -> Landing:
    deadline = time.monotonic() + timeout
    while True:
        if before_poll:
            before_poll()
        landing = locate(session, targets, sent, checks=checks)
        if not missing(sent, landing, checks=checks) or time.monotonic() > deadline:
            return landing
        time.sleep(poll)


def report(sent: Sequence[Sent], landing: Landing, *, checks: Checks) -> tuple[str, bool]:
    """A summary table and, on failure, the precise list of what is missing where."""
    kinds = Counter("invalid" if s.record.invalid_reason else "anomaly" if s.record.anomaly else "normal" for s in sent)
    places = Counter(place for found in landing.places.values() for place in found)
    absent = missing(sent, landing, checks=checks)
    flagged = sum(
        1
        for index, item in enumerate(sent)
        if item.record.anomaly and "table" in landing.places.get(index, set()) and index not in landing.problems
    )
    reasons = dict(sorted(landing.quarantine_reasons.items()))
    lines = [
        f"{'records put':<28}{len(sent):>8}   "
        f"(normal {kinds['normal']}, anomalies {kinds['anomaly']}, invalid {kinds['invalid']})",
        f"{'in readings table':<28}{places['table']:>8}",
        f"{'  flagged as anomaly':<28}{flagged:>8}",
        *([f"{'  alerted':<28}{places['alert']:>8}"] if checks.alerts is not None else []),
        f"{'in quarantine':<28}{places['quarantine']:>8}   {reasons}",
        f"{'in failure destination':<28}{places['failure destination']:>8}",
    ]
    if checks.archive:
        lines.append(f"{'in raw archive':<28}{places['archive']:>8}")
    ok = not absent and not landing.problems
    lines.append(f"{'result':<28}{'PASS' if ok else 'FAIL':>8}")
    for index, what in sorted(absent.items())[:50]:
        item = sent[index]
        name = item.record.reading_id or "(invalid record)"
        lines.append(f"  missing from {what}: reading {name} sensor {item.record.sensor_id} seq {item.sequence_number}")
    for index, problem in sorted(landing.problems.items())[:50]:
        lines.append(f"  wrong: reading {sent[index].record.reading_id or sent[index].sequence_number}: {problem}")
    if len(absent) > 50:
        lines.append(f"  ... and {len(absent) - 50} more missing")
    return "\n".join(lines), ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--stage", help="stage name: targets come from iot-<stage>-ingest/archive stack outputs")
    source.add_argument("--from-environment", action="store_true", help="targets from INGEST_*/ARCHIVE_* variables")
    parser.add_argument("--role-arn", help="assume this role first (the stage's SmokeTestRoleArn)")
    parser.add_argument("--records", type=int, default=200, help="how many synthetic records (default 200)")
    parser.add_argument("--anomaly-share", type=float, default=0.05, help="share of anomalies (default 0.05)")
    parser.add_argument("--invalid-share", type=float, default=0.03, help="share of invalid records (default 0.03)")
    parser.add_argument(
        "--timeout",
        type=float,
        default=900,
        help="seconds to wait for every record; the archive needs the Firehose buffer interval (default 900)",
    )
    parser.add_argument(
        "--skip-mqtt", action="store_true", help="do not publish through MQTT even where the stage has it"
    )
    args = parser.parse_args(argv)
    if args.records <= 0:
        parser.error("--records must be positive")

    session = session_for(args.role_arn, session_name="iot-smoke-test")
    targets = Targets.from_environment(os.environ) if args.from_environment else Targets.from_stage(session, args.stage)
    if not targets.alert_inbox_url:
        raise SystemExit("error: the ingest stack has no AlertInboxUrl output; the alert check needs it")
    run_id = f"{SMOKE_RUN_PREFIX}{uuid.uuid4().hex[:12]}"
    try:
        records = synthetic_records(
            args.records,
            run_id=run_id,
            now=datetime.now(UTC),
            anomaly_share=args.anomaly_share,
            invalid_share=args.invalid_share,
        )
    except ValueError as error:
        parser.error(str(error))
    print(f"run {run_id}: putting {len(records)} records to {targets.stream_name}")
    sent = put_records(session.client("kinesis"), targets.stream_name, records)
    checks = Checks(archive=True, alerts=AlertInbox(session.client("sqs"), targets.alert_inbox_url))
    landing = wait_for_landing(session, targets, sent, checks=checks, timeout=args.timeout)
    text, ok = report(sent, landing, checks=checks)
    print(text)
    if not args.skip_mqtt:
        from tools.smoke_mqtt import mqtt_leg  # noqa: PLC0415 - it builds on this module

        environment = os.environ if args.from_environment else None
        ok = mqtt_leg(session, targets, stage=args.stage, environment=environment, run_id=run_id) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
