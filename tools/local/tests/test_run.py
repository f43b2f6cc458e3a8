"""The local run's own logic: what it waits for before checking where the readings landed."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.synthetic.readings import synthetic_records
from tools.landing.producers import Sent
from tools.local.run import last_put


def test_the_run_waits_for_the_last_record_put_to_each_shard() -> None:
    record = synthetic_records(1, run_id="unit", now=datetime.now(UTC), anomaly_share=0, invalid_share=0)[0]
    # Sequence numbers compared as numbers: "10" comes after "9", and an aggregate's readings share theirs.
    sent = [
        Sent(record=record, shard_id=shard, sequence_number=number, put_at=0.0, sub_record=sub)
        for shard, number, sub in [("a", "9", None), ("a", "10", 0), ("a", "10", 1), ("b", "7", None), ("a", "8", None)]
    ]
    assert last_put(sent) == {"a": 10, "b": 7}
    assert last_put([]) == {}
