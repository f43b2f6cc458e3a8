"""Put synthetic readings on a stream, as a producer would: one reading per Kinesis record, or KPL-aggregated."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from tqdm import tqdm

from shared.synthetic.kpl import aggregated
from shared.synthetic.readings import SyntheticRecord

PUT_BATCH = 500  # PutRecords' limit
PUT_ATTEMPTS = 8


@dataclass(frozen=True, kw_only=True)
class Sent:
    """A record the stream accepted, and where it sits in the stream."""

    record: SyntheticRecord
    shard_id: str
    sequence_number: str
    put_at: float
    sub_record: int | None = None  # the reading's index inside a KPL aggregate


class Producer(Protocol):
    def __call__(
        self,
        kinesis: Any,
        stream_name: str,
        records: Sequence[SyntheticRecord],
        *,
        rate: float | None = None,
        progress: bool = True,
        on_put: Callable[[int], None] | None = None,
    ) -> list[Sent]: ...


def put_records(
    kinesis: Any,
    stream_name: str,
    records: Sequence[SyntheticRecord],
    *,
    rate: float | None = None,
    progress: bool = True,
    on_put: Callable[[int], None] | None = None,
) -> list[Sent]:
    """PutRecords in batches of 500, retrying failed entries; optional rate limit in records/s. ``on_put`` hears how
    many records each call put, as they are put."""
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
                if on_put is not None:
                    on_put(len(pending) - len(retry))
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


def put_aggregated(
    kinesis: Any,
    stream_name: str,
    records: Sequence[SyntheticRecord],
    *,
    rate: float | None = None,
    progress: bool = True,
    on_put: Callable[[int], None] | None = None,
) -> list[Sent]:
    """Put ``records`` as KPL aggregates; one Sent per reading, naming its aggregate's position and index.
    ``on_put`` hears how many aggregates each call put."""
    aggregates = aggregated(records)
    carriers = {
        SyntheticRecord(data=a.data, partition_key=a.partition_key, reading_id=None, sensor_id=a.partition_key): a
        for a in aggregates
    }
    per_second = rate * len(aggregates) / len(records) if rate and records else None  # --rate counts readings
    sent = put_records(kinesis, stream_name, list(carriers), rate=per_second, progress=progress, on_put=on_put)
    return [  # put_records returns retried entries last, so each carrier finds its aggregate by value
        replace(carrier, record=member, sub_record=index)
        for carrier in sent
        for index, member in enumerate(carriers[carrier.record].members)
    ]


def last_put(sent: Sequence[Sent]) -> dict[str, int]:
    """The sequence number of the last record put to each shard: what a consumer must read past to have them all."""
    through: dict[str, int] = {}
    for item in sent:
        through[item.shard_id] = max(through.get(item.shard_id, -1), int(item.sequence_number))
    return through


# How readings are put: one per record, or aggregated as the Kinesis Producer Library does.
PRODUCERS: dict[str, Producer] = {"plain": put_records, "kpl": put_aggregated}
