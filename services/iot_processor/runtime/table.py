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
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from shared.readings.anomalies import Severity
from shared.readings.schema import Reading

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

PARTITION_KEY = "sensor_id"
SORT_KEY = "reading_key"
ANOMALY_INDEX = "anomalies_by_type"
ANOMALY_PARTITION = "anomaly_partition"
ANOMALY_SORT = "anomaly_sort"
TTL_ATTRIBUTE = "expires_at"
SYNTHETIC_TTL = timedelta(days=1)
BATCH_WRITE_LIMIT = 25
THROTTLING_ERRORS = frozenset({"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"})

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


@dataclass(frozen=True, kw_only=True)
class StoredReading:
    reading: Reading
    severity: Severity | None


def item_for(stored: StoredReading, *, ttl_days: int, index_shards: int) -> dict[str, Any]:
    reading = stored.reading
    keep_for = SYNTHETIC_TTL if reading.synthetic_run else timedelta(days=ttl_days)
    item: dict[str, Any] = {
        PARTITION_KEY: reading.sensor_id,
        SORT_KEY: reading.sort_key,
        "reading_id": reading.reading_id,
        "sensor_type": reading.sensor_type,
        "value": reading.value,
        "event_time": reading.event_time,
        TTL_ATTRIBUTE: int((reading.timestamp + keep_for).timestamp()),
        "anomaly": stored.severity is not None,
    }
    optional = {
        "unit": reading.unit,
        "site": reading.site,
        "device": reading.device,
        "synthetic_run": reading.synthetic_run,
    }
    item.update({name: value for name, value in optional.items() if value is not None})
    if stored.severity is not None:
        item["severity"] = str(stored.severity)
        item[ANOMALY_PARTITION] = anomaly_partition(reading.sensor_type, anomaly_shard(reading, index_shards))
        item[ANOMALY_SORT] = f"{reading.event_time}#{reading.sensor_id}#{reading.reading_id}"
    return item


def anomaly_shard(reading: Reading, shards: int) -> int:
    digest = hashlib.sha256(f"{reading.sensor_id}#{reading.reading_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % shards


def anomaly_partition(sensor_type: str, shard: int) -> str:
    return f"{sensor_type}#{shard:02d}"


ReadingKey = tuple[str, str]  # (sensor_id, reading_key): the table's primary key


def reading_key(reading: Reading) -> ReadingKey:
    return reading.sensor_id, reading.sort_key


def key_of(item: dict[str, Any]) -> ReadingKey:
    return item[PARTITION_KEY], item[SORT_KEY]


class ReadingsTable:
    """BatchWriteItem in chunks of 25 with distinct keys; unprocessed items retried with backoff and jitter."""

    def __init__(
        self,
        *,
        client: DynamoDBClient,
        table_name: str,
        max_attempts: int = 6,
        base_delay_seconds: float = 0.05,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self._client = client
        self._table = table_name
        self._max_attempts = max_attempts
        self._base_delay = base_delay_seconds
        self._sleep = sleep or time.sleep

    def put_all(self, items: Iterable[dict[str, Any]]) -> set[ReadingKey]:
        """Write every item; return the keys that still failed after all retries."""
        distinct = {key_of(item): item for item in items}  # duplicates in one call are rejected by DynamoDB
        failed: set[ReadingKey] = set()
        for chunk in _chunks(list(distinct.values()), BATCH_WRITE_LIMIT):
            failed |= self._write_chunk(chunk)
        return failed

    def _write_chunk(self, chunk: Sequence[dict[str, Any]]) -> set[ReadingKey]:
        requests = [{"PutRequest": {"Item": _serialize(item)}} for item in chunk]
        for attempt in range(self._max_attempts):
            if attempt:
                # Full jitter: concurrent shards retrying in lockstep would throttle each other again.
                self._sleep(random.uniform(0, self._base_delay * 2**attempt))  # noqa: S311 - jitter, not crypto
            try:
                response = self._client.batch_write_item(RequestItems={self._table: requests})  # type: ignore[dict-item]
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") not in THROTTLING_ERRORS:
                    raise
                continue
            requests = list(response.get("UnprocessedItems", {}).get(self._table, []))  # type: ignore[arg-type]
            if not requests:
                return set()
        return {key_of(_deserialize(request["PutRequest"]["Item"])) for request in requests}

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


def _chunks(items: Sequence[dict[str, Any]], size: int) -> Iterator[Sequence[dict[str, Any]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _serialize(item: dict[str, Any]) -> dict[str, Any]:
    return {name: _serializer.serialize(value) for name, value in item.items()}


def _deserialize(item: Any) -> dict[str, Any]:
    return {name: _deserializer.deserialize(value) for name, value in item.items()}
