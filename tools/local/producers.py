"""A KPL-style producer for the local run: synthetic readings put as KPL aggregates (shared/synthetic/kpl.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from shared.synthetic.kpl import aggregated
from shared.synthetic.readings import SyntheticRecord
from tools.smoke_test import Sent, put_records


def put_aggregated(
    kinesis: Any, stream_name: str, records: Sequence[SyntheticRecord], *, rate: float | None, progress: bool
) -> list[Sent]:
    """Put ``records`` as KPL aggregates; one Sent per reading, naming its aggregate's position and index."""
    aggregates = aggregated(records)
    carriers = {
        SyntheticRecord(data=a.data, partition_key=a.partition_key, reading_id=None, sensor_id=a.partition_key): a
        for a in aggregates
    }
    per_second = rate * len(aggregates) / len(records) if rate and records else None  # --rate counts readings
    sent = put_records(kinesis, stream_name, list(carriers), rate=per_second, progress=progress)
    return [  # put_records returns retried entries last, so each carrier finds its aggregate by value
        replace(carrier, record=member, sub_record=index)
        for carrier in sent
        for index, member in enumerate(carriers[carrier.record].members)
    ]
