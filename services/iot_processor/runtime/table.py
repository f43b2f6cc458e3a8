"""The readings table: item layout, idempotent batch writes, and the two query patterns.

Keys
  sensor_id (PK) + reading_key (SK = "<event time>#<reading id>"): a sensor's readings in time order; two
  readings at one instant differ by reading id, a duplicate of one reading lands on the same item.
  GSI anomalies_by_type: anomaly_partition = "<sensor type>#<shard>" (only anomalies carry it: a sparse
  index), anomaly_sort = "<event time>#<sensor id>#<reading id>". The shard suffix spreads one type's
  anomalies over several partitions, so even a storm of anomalies of one type stays below partition limits.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from services.iot_processor.contract import (
    ANOMALY_FLAG,
    ANOMALY_INDEX,
    ANOMALY_PARTITION,
    ANOMALY_SORT,
    PARTITION_KEY,
    SORT_KEY,
    TTL_ATTRIBUTE,
)
from services.iot_processor.runtime.aws_errors import AWS_FAILURES, Fault, describe, fault_of
from shared.readings.anomalies import Severity
from shared.readings.schema import Reading

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

SYNTHETIC_TTL = timedelta(days=1)
BATCH_WRITE_LIMIT = 25

logger = Logger(child=True)


@dataclass(frozen=True, kw_only=True)
class StoredReading:
    reading: Reading
    severity: Severity | None


WireItem = dict[str, dict[str, Any]]  # an item in DynamoDB's own format: {"value": {"N": "21.5"}, ...}


def item_for(stored: StoredReading, *, ttl_days: int, anomaly_ttl_days: int, index_shards: int) -> WireItem:
    """The reading's item, in wire format, built and checked on its own so it can never fail a batch of 25.

    A reading expires ``ttl_days`` after its event time, an anomaly ``anomaly_ttl_days`` after: the anomaly index
    serves a longer window than the latest-readings query (ADR 0013); a synthetic reading expires after a day.

    Numbers are already DynamoDB numbers (the reading contract rounds and bounds them); text must encode as
    UTF-8, which the contract's patterns guarantee and this checks once more, cheaply, where the SDK would fail.
    """
    reading = stored.reading
    days = anomaly_ttl_days if stored.severity is not None else ttl_days
    keep_for = SYNTHETIC_TTL if reading.synthetic_run else timedelta(days=days)
    text = {
        PARTITION_KEY: reading.sensor_id,
        SORT_KEY: reading.sort_key,
        "reading_id": reading.reading_id,
        "sensor_type": reading.sensor_type,
        "event_time": reading.event_time,
        "unit": reading.unit,
        "site": reading.site,
        "device": reading.device,
        "synthetic_run": reading.synthetic_run,
    }
    if stored.severity is not None:
        text["severity"] = str(stored.severity)
        text[ANOMALY_PARTITION] = anomaly_partition(reading.sensor_type, anomaly_shard(reading, index_shards))
        text[ANOMALY_SORT] = f"{reading.event_time}#{reading.sensor_id}#{reading.reading_id}"
    item: WireItem = {name: {"S": value} for name, value in text.items() if value is not None}
    for value in item.values():
        value["S"].encode()  # the SDK encodes the whole request: a lone surrogate must fail here, for this item only
    item["value"] = {"N": str(reading.value)}
    item[TTL_ATTRIBUTE] = {"N": str(int((reading.timestamp + keep_for).timestamp()))}
    item[ANOMALY_FLAG] = {"BOOL": stored.severity is not None}
    return item


def anomaly_shard(reading: Reading, shards: int) -> int:
    digest = hashlib.sha256(f"{reading.sensor_id}#{reading.reading_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % shards


def anomaly_partition(sensor_type: str, shard: int) -> str:
    return f"{sensor_type}#{shard:02d}"


ReadingKey = tuple[str, str]  # (sensor_id, reading_key): the table's primary key


def reading_key(reading: Reading) -> ReadingKey:
    return reading.sensor_id, reading.sort_key


def key_of(item: WireItem) -> ReadingKey:
    return item[PARTITION_KEY]["S"], item[SORT_KEY]["S"]


@dataclass(frozen=True, kw_only=True)
class WriteOutcome:
    """What put_all could not store: ``failed`` is worth retrying, ``rejected`` (key -> the table's reason) is not.
    ``throttled``: item writes the table turned away (unprocessed or refused as transient) and that were sent again."""

    failed: frozenset[ReadingKey] = frozenset()
    rejected: Mapping[ReadingKey, str] = field(default_factory=dict)
    throttled: int = 0

    def __or__(self, other: WriteOutcome) -> WriteOutcome:
        return WriteOutcome(
            failed=self.failed | other.failed,
            rejected={**self.rejected, **other.rejected},
            throttled=self.throttled + other.throttled,
        )


TimeLeft = Callable[[], float]  # seconds left in the invocation
MAX_DOUBLINGS = 16  # the backoff's ceiling is reached long before; past it 2**attempt would only grow


class ReadingsTable:
    """BatchWriteItem in chunks of 25 with distinct keys; unprocessed items retried with backoff and jitter.

    A chunk gets ``max_attempts``, and with ``time_left`` (the invocation's remaining seconds) more for as long as more
    than ``reserve_seconds`` remain: a provisioned table throttles a burst above its capacity by design, and waiting
    here writes each reading once, where reporting it failed would make the mapping re-send every record after it,
    the stored ones included (ADR 0013). The reserve leaves time for the processed object, the alerts and the
    partial batch response.
    """

    def __init__(
        self,
        *,
        client: DynamoDBClient,
        table_name: str,
        max_attempts: int = 6,
        base_delay_seconds: float = 0.05,
        max_delay_seconds: float = 2.0,
        reserve_seconds: float = 20.0,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self._client = client
        self._table = table_name
        self._max_attempts = max_attempts
        self._base_delay = base_delay_seconds
        self._max_delay = max_delay_seconds
        self._reserve = reserve_seconds
        self._sleep = sleep or time.sleep

    def put_all(self, items: Iterable[WireItem], *, time_left: TimeLeft | None = None) -> WriteOutcome:
        """Write every item; report the keys still failing after all retries and the ones the table refused."""
        distinct = {key_of(item): item for item in items}  # duplicates in one call are rejected by DynamoDB
        outcome = WriteOutcome()
        for chunk in _chunks(list(distinct.values()), BATCH_WRITE_LIMIT):
            outcome |= self._write_chunk(chunk, time_left)
        return outcome

    def _may_retry(self, attempt: int, time_left: TimeLeft | None) -> bool:
        return attempt < self._max_attempts or (time_left is not None and time_left() > self._reserve)

    def _write_chunk(self, chunk: Sequence[WireItem], time_left: TimeLeft | None) -> WriteOutcome:
        pending = list(chunk)
        throttled = 0
        attempt = 0
        while True:
            if attempt:
                # Full jitter: concurrent shards retrying in lockstep would throttle each other again.
                ceiling = min(self._max_delay, self._base_delay * 2 ** min(attempt, MAX_DOUBLINGS))
                self._sleep(random.uniform(0, ceiling))  # noqa: S311 - jitter, not crypto
            attempt += 1
            try:
                response = self._client.batch_write_item(
                    RequestItems={self._table: [{"PutRequest": {"Item": item}} for item in pending]}
                )
            except AWS_FAILURES as error:
                fault = fault_of(error)
                if fault is Fault.ITEM:
                    return self._refused(pending, error, time_left) | WriteOutcome(throttled=throttled)
                if fault is not Fault.TRANSIENT:
                    logger.exception("readings table refused the batch", extra={"error": describe(error)})
                    return WriteOutcome(failed=frozenset(key_of(item) for item in pending), throttled=throttled)
            else:
                unprocessed = response.get("UnprocessedItems", {}).get(self._table, [])
                pending = [request["PutRequest"]["Item"] for request in unprocessed]  # type: ignore[misc]
                if not pending:
                    return WriteOutcome(throttled=throttled)
            if not self._may_retry(attempt, time_left):
                return WriteOutcome(failed=frozenset(key_of(item) for item in pending), throttled=throttled)
            throttled += len(pending)

    def _refused(
        self, pending: Sequence[WireItem], error: ClientError | BotoCoreError, time_left: TimeLeft | None
    ) -> WriteOutcome:
        """BatchWriteItem refuses a whole request for one invalid item: write one item per request to find it."""
        if len(pending) == 1:
            logger.warning("readings table refused an item", extra={"error": describe(error)})
            return WriteOutcome(rejected={key_of(pending[0]): describe(error)})
        outcome = WriteOutcome()
        for item in pending:
            outcome |= self._write_chunk([item], time_left)
        return outcome

    def latest(self, sensor_id: str, *, limit: int = 10) -> list[dict[str, Any]]:
        """The newest readings of one sensor, newest first."""
        response = self._client.query(
            TableName=self._table,
            KeyConditionExpression="#pk = :sensor",
            ExpressionAttributeNames={"#pk": PARTITION_KEY},
            ExpressionAttributeValues={":sensor": {"S": sensor_id}},
            ScanIndexForward=False,
            Limit=limit,
        )
        return [_deserialize(item) for item in response.get("Items", [])]

    def anomalies(self, sensor_type: str, start: datetime, end: datetime, *, shards: int) -> list[dict[str, Any]]:
        """Anomalies of one type with start <= event time < end, across every index shard, oldest first."""
        lower, upper = _iso(start), _iso(end)
        found: list[dict[str, Any]] = []
        for shard in range(shards):
            paginator = self._client.get_paginator("query")
            for page in paginator.paginate(
                TableName=self._table,
                IndexName=ANOMALY_INDEX,
                KeyConditionExpression="#p = :p AND #s BETWEEN :lower AND :upper",
                ExpressionAttributeNames={"#p": ANOMALY_PARTITION, "#s": ANOMALY_SORT},
                ExpressionAttributeValues={
                    ":p": {"S": anomaly_partition(sensor_type, shard)},
                    ":lower": {"S": lower},
                    ":upper": {"S": upper},  # "#" sorts after digits, so an end instant excludes itself
                },
            ):
                found.extend(_deserialize(item) for item in page.get("Items", []))
        return sorted((item for item in found if item["event_time"] < upper), key=lambda item: item[ANOMALY_SORT])


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _chunks(items: Sequence[WireItem], size: int) -> Iterator[Sequence[WireItem]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _deserialize(item: Any) -> dict[str, Any]:
    # Queries only (tools, tests): the write path never imports boto3 (see clients.py).
    from boto3.dynamodb.types import TypeDeserializer  # noqa: PLC0415

    deserializer = TypeDeserializer()
    return {name: deserializer.deserialize(value) for name, value in item.items()}
