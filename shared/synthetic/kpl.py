"""KPL aggregates of synthetic readings, written with AWS's aggregation library (aws-kinesis-agg).

The library writes the same format as the Kinesis Producer Library (KPL) and the Kinesis Agent, so tests and the
local run prove the decoder against what those producers send, not against this repo's own encoder.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aws_kinesis_agg.aggregator import RecordAggregator

from shared.synthetic.readings import SyntheticRecord

# The KPL's default AggregationMaxSize: an aggregate is sent once it would grow past this many bytes.
KPL_AGGREGATE_BYTES = 51_200


@dataclass(frozen=True, kw_only=True)
class Aggregate:
    data: bytes
    partition_key: str
    members: tuple[SyntheticRecord, ...]


def kpl_record(entries: Sequence[tuple[str, bytes]], *, explicit_hash_keys: Sequence[str | None] = ()) -> bytes:
    """One Kinesis record's data aggregating ``entries`` (partition key, data), as the KPL writes it."""
    aggregator = RecordAggregator()
    for index, (partition_key, data) in enumerate(entries):
        hash_key = explicit_hash_keys[index] if explicit_hash_keys else None
        if aggregator.add_user_record(partition_key, data, hash_key) is not None:
            raise ValueError(f"{len(entries)} entries do not fit in one aggregated record")
    _, _, data = aggregator.clear_and_get().get_contents()
    return bytes(data)


def aggregated(records: Sequence[SyntheticRecord], *, max_bytes: int = KPL_AGGREGATE_BYTES) -> list[Aggregate]:
    """``records`` packed in order into aggregates of at most ``max_bytes``."""
    aggregator = RecordAggregator(max_size=max_bytes)
    aggregates: list[Aggregate] = []
    members: list[SyntheticRecord] = []

    def close() -> None:
        if members:
            partition_key, _, data = aggregator.clear_and_get().get_contents()
            aggregates.append(Aggregate(data=data, partition_key=partition_key, members=tuple(members)))
            members.clear()

    for record in records:
        full: Any = aggregator.add_user_record(record.partition_key, record.data)
        if full is not None:  # the library hands back the full aggregate and starts a new one with this record
            partition_key, _, data = full.get_contents()
            aggregates.append(Aggregate(data=data, partition_key=partition_key, members=tuple(members)))
            members.clear()
        members.append(record)
    close()
    return aggregates
