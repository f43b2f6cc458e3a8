"""Putting readings as a producer would: batches of 500, failed entries retried, a rate kept, KPL aggregates."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.kinesis.aggregation import unpack
from shared.synthetic.readings import SyntheticRecord, synthetic_records
from tools.landing import producers
from tools.landing.producers import PRODUCERS, Sent, last_put, put_aggregated, put_records


def _records(count: int) -> list[SyntheticRecord]:
    return synthetic_records(count, run_id="unit", now=datetime.now(UTC), anomaly_share=0, invalid_share=0)


class Stream:
    """PutRecords refusing the entries at the given positions of the given calls (ProvisionedThroughputExceeded)."""

    def __init__(self, refuse: dict[int, set[int]] | None = None) -> None:
        self.refuse = refuse or {}
        self.calls: list[list[dict[str, Any]]] = []
        self.accepted: list[bytes] = []

    def put_records(self, *, StreamName: str, Records: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        assert StreamName == "readings"
        call = len(self.calls)
        self.calls.append(Records)
        answers = []
        for position, record in enumerate(Records):
            if position in self.refuse.get(call, set()):
                answers.append({"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "slow down"})
            else:
                self.accepted.append(record["Data"])
                number = len(self.accepted)
                answers.append({"ShardId": f"shardId-{number % 2:012d}", "SequenceNumber": str(1000 + number)})
        return {"FailedRecordCount": sum(1 for a in answers if "ErrorCode" in a), "Records": answers}


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(producers.time, "sleep", slept.append)  # type: ignore[attr-defined]
    return slept


def test_readings_go_in_batches_of_500_each_sent_with_where_it_landed(sleeps: list[float]) -> None:
    records = _records(1_201)
    stream = Stream()
    sent = put_records(stream, "readings", records, progress=False)
    assert [len(call) for call in stream.calls] == [500, 500, 201]
    assert [item.record for item in sent] == records
    assert [item.sequence_number for item in sent] == [str(1001 + n) for n in range(1_201)]
    assert all(item.sub_record is None for item in sent)
    assert stream.calls[0][0] == {"Data": records[0].data, "PartitionKey": records[0].partition_key}
    assert sleeps == []


def test_refused_entries_are_put_again_alone_with_a_growing_pause(sleeps: list[float]) -> None:
    records = _records(10)
    stream = Stream(refuse={0: {2, 7}, 1: {0}})  # the second call holds only the two refused: refuses the first again
    sent = put_records(stream, "readings", records, progress=False)
    assert [len(call) for call in stream.calls] == [10, 2, 1]
    assert [r["Data"] for r in stream.calls[1]] == [records[2].data, records[7].data]
    assert sorted(item.record.data for item in sent) == sorted(record.data for record in records)
    assert sleeps == [0.1, 0.2]


def test_a_record_refused_every_time_fails_the_put_naming_how_many(sleeps: list[float]) -> None:
    stream = Stream(refuse={call: {0} for call in range(producers.PUT_ATTEMPTS)})
    with pytest.raises(RuntimeError, match=f"1 records could not be put after {producers.PUT_ATTEMPTS} attempts"):
        put_records(stream, "readings", _records(3), progress=False)
    assert len(stream.calls) == 8
    assert sleeps == [0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0, 2.0]  # doubling, capped at two seconds


def test_a_rate_paces_each_batch(sleeps: list[float], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(producers.time, "monotonic", lambda: 0.0)  # type: ignore[attr-defined]
    put_records(Stream(), "readings", _records(1_000), rate=250, progress=False)
    assert sleeps == [2.0, 4.0]  # batch 1 ends at 500/250 s, batch 2 at 1000/250 s, with no time spent


def test_kpl_aggregates_carry_many_readings_each_named_by_its_index(sleeps: list[float]) -> None:
    records = _records(300)
    stream = Stream()
    sent = put_aggregated(stream, "readings", records, progress=False)
    assert 1 <= len(stream.accepted) < 20
    assert [item.record for item in sent] == records
    for aggregate in {item.sequence_number for item in sent}:
        members = [item for item in sent if item.sequence_number == aggregate]
        assert [item.sub_record for item in members] == list(range(len(members)))
    first = unpack(stream.accepted[0], partition_key="")
    assert first.aggregated
    assert [user.data for user in first.records] == [
        item.record.data for item in sent if item.sequence_number == sent[0].sequence_number
    ]


def test_an_aggregated_rate_counts_readings_not_aggregates(
    sleeps: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(producers.time, "monotonic", lambda: 0.0)  # type: ignore[attr-defined]
    records = _records(3_000)
    stream = Stream()
    put_aggregated(stream, "readings", records, rate=1_000, progress=False)
    aggregates = len(stream.accepted)
    assert len(stream.calls) == 1  # fewer aggregates than a batch
    assert sleeps == [pytest.approx(500 / (1_000 * aggregates / 3_000))]  # the whole batch, at the readings' rate


def test_no_readings_put_nothing(sleeps: list[float]) -> None:
    stream = Stream()
    assert put_aggregated(stream, "readings", [], rate=10, progress=False) == []
    assert put_records(stream, "readings", [], rate=10, progress=False) == []
    assert stream.calls == []


def test_the_producers_by_name() -> None:
    names: Sequence[str] = sorted(PRODUCERS)
    assert names == ["kpl", "plain"]
    assert PRODUCERS["plain"] is put_records
    assert PRODUCERS["kpl"] is put_aggregated


def test_the_last_record_put_to_each_shard_is_found_by_number() -> None:
    record = synthetic_records(1, run_id="unit", now=datetime.now(UTC), anomaly_share=0, invalid_share=0)[0]
    # Sequence numbers compared as numbers: "10" comes after "9", and an aggregate's readings share theirs.
    sent = [
        Sent(record=record, shard_id=shard, sequence_number=number, put_at=0.0, sub_record=sub)
        for shard, number, sub in [("a", "9", None), ("a", "10", 0), ("a", "10", 1), ("b", "7", None), ("a", "8", None)]
    ]
    assert last_put(sent) == {"a": 10, "b": 7}
    assert last_put([]) == {}
