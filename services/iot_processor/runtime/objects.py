"""S3 objects the processor writes: quarantined records and the processed output of each batch.

Keys are deterministic: a retried batch overwrites its own objects, and two concurrent invocations never
collide, because a shard's sequence numbers are unique and each key carries the shard and sequence numbers.
A reading from a KPL aggregate is named by its aggregate's sequence number plus its index inside it.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Sequence
from datetime import UTC
from typing import TYPE_CHECKING, Any

from services.iot_processor.contract import StreamPosition, processed_key, quarantine_key
from shared.readings.schema import InvalidReadingError

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

    from services.iot_processor.runtime.table import StoredReading


class ProcessedBucket:
    def __init__(self, *, client: S3Client, bucket: str) -> None:
        self._client = client
        self._bucket = bucket

    def quarantine(self, position: StreamPosition, data: bytes, problem: InvalidReadingError) -> None:
        """One object per invalid record, with the reason and the original bytes (base64)."""
        document = {
            "reason": str(problem.reason),
            "detail": problem.detail,
            "shard_id": position.shard_id,
            "sequence_number": position.sequence_number,
            "sub_record": position.sub_record,
            "partition_key": position.partition_key,
            "arrival": position.arrival.astimezone(UTC).isoformat(),
            "data_base64": base64.b64encode(data).decode(),
        }
        self._client.put_object(
            Bucket=self._bucket,
            Key=quarantine_key(position),
            Body=json.dumps(document).encode(),
            ContentType="application/json",
            Metadata={"reason": str(problem.reason)},
        )

    def write_processed(self, stored: Sequence[tuple[StreamPosition, StoredReading]]) -> str:
        """One gzip JSON-lines object per batch of stored readings; returns its key."""
        lines = [json.dumps(_processed_line(position, item)) for position, item in stored]  # fields in a fixed order
        key = processed_key(stored[0][0], stored[-1][0])
        body = gzip.compress(
            ("\n".join(lines) + "\n").encode(), compresslevel=6, mtime=0
        )  # mtime=0: a retry writes identical bytes
        self._client.put_object(
            Bucket=self._bucket, Key=key, Body=body, ContentType="application/x-ndjson", ContentEncoding="gzip"
        )
        return key


def _processed_line(position: StreamPosition, stored: StoredReading) -> dict[str, Any]:
    return {
        **stored.reading.to_json(),
        "anomaly": stored.severity is not None,
        "severity": str(stored.severity) if stored.severity else None,
        "shard_id": position.shard_id,
        "sequence_number": position.sequence_number,
        "sub_record": position.sub_record,
    }
