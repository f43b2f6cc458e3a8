"""Where each sent reading landed: the readings table, the quarantine, the failure destination, the raw archive and
the alerts, each searched only where the processor or Firehose must have put it.
"""

from __future__ import annotations

import base64
import gzip
import json
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

from services.iot_archive import contract as archive
from services.iot_processor.contract import PARTITION_KEY, QUARANTINE_PREFIX, SORT_KEY, record_name
from shared.readings.schema import parse_reading
from shared.synthetic.readings import SyntheticRecord
from tools.landing.producers import Sent
from tools.landing.targets import Targets

# The archive's layout (services/iot_archive/infra/delivery.py; a test keeps the two in step).
_ISO_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
GET_BATCH = 100
TABLE_READERS = 3


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
    s3 = session.client("s3")
    searches: list[Callable[[Landing], None]] = [
        partial(_find_in_table, session.client("dynamodb"), targets.table_name, sent),
        partial(_find_in_quarantine, s3, targets.processed_bucket, sent),
        partial(_find_in_failures, s3, targets.failure_bucket, sent),
    ]
    if checks.archive:
        searches.append(partial(_find_in_archive, s3, targets.require_archive(), sent))
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


def duplicated_in_table(dynamodb: Any, table: str, sent: Sequence[Sent]) -> dict[str, int]:
    """The sent readings stored more than once (under more than one key), with how often: a retried batch must
    overwrite its items, never add to them. A scan of the whole table: for the local platform's tables."""
    reading_ids = {item.record.reading_id for item in sent if item.record.reading_id}
    stored: Counter[str] = Counter()
    for page in dynamodb.get_paginator("scan").paginate(TableName=table):
        stored.update(found["reading_id"]["S"] for found in page["Items"] if found["reading_id"]["S"] in reading_ids)
    return {reading_id: count for reading_id, count in stored.items() if count > 1}


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
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Landing:
    """Search every ``poll`` seconds until nothing is missing, or ``timeout`` seconds have passed: the last search."""
    deadline = clock() + timeout
    while True:
        if before_poll:
            before_poll()
        landing = locate(session, targets, sent, checks=checks)
        if not missing(sent, landing, checks=checks) or clock() > deadline:
            return landing
        sleep(poll)
