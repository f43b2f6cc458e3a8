"""The shard reader both local consumers use: pages delivered in order, the tip detected, read errors retried."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from botocore.utils import parse_timestamp

from tools.local.shard_reader import (
    IDLE_POLL_SECONDS,
    MAX_IDLE_POLL_SECONDS,
    ShardReader,
    kinesis_client,
    shard_ids,
    utc_timestamp,
)
from tools.local.tests.emulated import REGION, emulated_account


class ScriptedKinesis:
    """GetRecords answers from a script (a page or an error per call); the reader is stopped after the last one."""

    def __init__(self, stop: threading.Event, *script: dict[str, Any] | Exception) -> None:
        self._stop = stop
        self._script = list(script)
        self.iterator_requests: list[dict[str, Any]] = []
        self.reads: list[tuple[str, int]] = []

    def get_shard_iterator(self, **request: Any) -> dict[str, Any]:
        self.iterator_requests.append(request)
        return {"ShardIterator": "iterator-0"}

    def get_records(self, *, ShardIterator: str, Limit: int) -> dict[str, Any]:  # noqa: N803
        self.reads.append((ShardIterator, Limit))
        step = self._script.pop(0)
        if not self._script:
            self._stop.set()
        if isinstance(step, Exception):
            raise step
        return step


def page(next_iterator: str, *records: str, behind: int | None = 0) -> dict[str, Any]:
    """A GetRecords answer; a record's sequence number is 10 plus its position in the page."""
    response: dict[str, Any] = {
        "NextShardIterator": next_iterator,
        "Records": [{"Data": r, "SequenceNumber": str(10 + index)} for index, r in enumerate(records, start=1)],
    }
    if behind is not None:
        response["MillisBehindLatest"] = behind
    return response


def data(delivered: list[list[Any]]) -> list[list[str]]:
    return [[record["Data"] for record in records] for records in delivered]


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)  # the reader pauses through time.sleep
    return slept


def read(*script: dict[str, Any] | Exception) -> tuple[ShardReader, ScriptedKinesis, list[list[Any]]]:
    stop = threading.Event()
    kinesis = ScriptedKinesis(stop, *script)
    delivered: list[list[Any]] = []
    reader = ShardReader(
        kinesis,
        stream_name="readings",
        shard_id="shardId-000000000003",
        position="LATEST",
        deliver=delivered.append,
        stop=stop,
    )
    reader.run()
    return reader, kinesis, delivered


def test_pages_are_delivered_in_order_following_the_next_iterator(sleeps: list[float]) -> None:
    reader, kinesis, delivered = read(page("iterator-1", "a", "b", behind=500), page("iterator-2", "c"))
    assert kinesis.iterator_requests == [
        {"StreamName": "readings", "ShardId": "shardId-000000000003", "ShardIteratorType": "LATEST"}
    ]
    assert kinesis.reads == [("iterator-0", 10_000), ("iterator-1", 10_000)]
    assert data(delivered) == [["a", "b"], ["c"]]
    assert sleeps == []  # no pause while there is data
    assert reader.at_tip is False


@pytest.mark.parametrize(("behind", "at_tip"), [(0, True), (None, True), (1, False)])
def test_the_tip_is_an_empty_page_with_nothing_behind(sleeps: list[float], behind: int | None, at_tip: bool) -> None:
    reader, _, delivered = read(page("iterator-1", "a"), page("iterator-2", behind=behind))
    assert reader.at_tip is at_tip
    assert data(delivered) == [["a"]]
    assert sleeps == [IDLE_POLL_SECONDS]  # an empty page: pause before polling again


def test_empty_pages_in_a_row_double_the_pause_up_to_once_a_second_and_records_reset_it(sleeps: list[float]) -> None:
    empty = [page(f"iterator-{index}") for index in range(7)]
    read(*empty, page("iterator-7", "a"), page("iterator-8"))
    assert IDLE_POLL_SECONDS == 0.05
    assert MAX_IDLE_POLL_SECONDS == 1.0
    assert sleeps == [0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 0.05]


def test_the_tip_counts_only_past_the_last_record_delivered(sleeps: list[float]) -> None:
    """A tip found before the latest put is no tip for it: the record must have been delivered."""
    reader, _, _ = read(page("iterator-1", "a", "b"), page("iterator-2"))
    assert reader.last_read == 12
    assert reader.at_tip_past({}) is True
    assert reader.at_tip_past({"shardId-000000000003": 12}) is True
    assert reader.at_tip_past({"shardId-000000000003": 13}) is False
    assert reader.at_tip_past({"shardId-000000000009": 99}) is True  # another shard's records are not this reader's


def test_a_page_with_records_is_never_the_tip(sleeps: list[float]) -> None:
    reader, _, _ = read(page("iterator-1"), page("iterator-2", "a", behind=0))
    assert reader.at_tip is False


@pytest.mark.parametrize(
    "error",
    [
        ClientError({"Error": {"Code": "InternalFailure", "Message": "race"}}, "GetRecords"),
        EndpointConnectionError(endpoint_url="http://127.0.0.1"),
    ],
)
def test_a_failed_read_is_retried_with_the_same_iterator(
    sleeps: list[float], error: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    _, kinesis, delivered = read(page("iterator-1", "a"), error, page("iterator-2", "b"))
    assert [iterator for iterator, _ in kinesis.reads] == ["iterator-0", "iterator-1", "iterator-1"]
    assert data(delivered) == [["a"], ["b"]]
    assert sleeps == [IDLE_POLL_SECONDS]
    (record,) = [r for r in caplog.records if r.getMessage() == "get_records failed on shardId-000000000003; retrying"]
    assert record.exc_info is not None
    assert record.exc_info[1] is error


def test_any_other_error_stops_the_reader(sleeps: list[float]) -> None:
    with pytest.raises(KeyError):
        read(page("iterator-1", "a"), KeyError("NextShardIterator"), page("iterator-2"))


def test_a_stopped_reader_reads_nothing_and_is_not_at_the_tip(sleeps: list[float]) -> None:
    stop = threading.Event()
    stop.set()
    kinesis = ScriptedKinesis(stop, page("iterator-1", "a"))
    reader = ShardReader(
        kinesis, stream_name="readings", shard_id="s", position="TRIM_HORIZON", deliver=print, stop=stop
    )
    assert reader.at_tip is False  # not before a read has found the tip
    reader.run()
    assert kinesis.reads == []
    assert reader.at_tip is False


@pytest.mark.parametrize("value", [1_767_225_600, 1_767_225_600.123, "2026-01-01T00:00:00.123Z", "1767225600"])
def test_a_timestamp_is_the_instant_botocore_reads(value: Any) -> None:
    assert utc_timestamp(value) == parse_timestamp(value)


def test_epoch_seconds_are_read_in_utc() -> None:
    assert utc_timestamp(1_767_225_600.5) == datetime(2026, 1, 1, 0, 0, 0, 500_000, tzinfo=UTC)
    assert utc_timestamp(1_767_225_600.5).tzinfo is UTC


def test_the_consumers_client_reads_arrival_times_in_utc() -> None:
    with emulated_account():
        default = boto3.client("kinesis", region_name=REGION)
        default.create_stream(StreamName="s", ShardCount=1)
        default.put_record(StreamName="s", Data=b"x", PartitionKey="k")
        shard_id = default.list_shards(StreamName="s")["Shards"][0]["ShardId"]

        def arrival(client: Any) -> datetime:
            iterator = client.get_shard_iterator(StreamName="s", ShardId=shard_id, ShardIteratorType="TRIM_HORIZON")
            (record,) = client.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
            stamp: datetime = record["ApproximateArrivalTimestamp"]
            return stamp

        ours, botocores = arrival(kinesis_client()), arrival(default)
    assert ours == botocores
    assert ours.tzinfo is UTC


class PagedShards:
    """ListShards as AWS answers it: pages of ``MaxResults``, and a NextToken that may not come with a StreamName
    (moto refuses a token without the parameters of the first call, so it cannot show this)."""

    def __init__(self, count: int) -> None:
        self.shards = [{"ShardId": f"shardId-{number:012d}"} for number in range(count)]
        self.calls = 0

    def list_shards(self, *, MaxResults: int, StreamName: str | None = None, NextToken: str | None = None) -> Any:  # noqa: N803 - the SDK's names
        self.calls += 1
        if (StreamName is None) == (NextToken is None):
            raise AssertionError("ListShards takes either a StreamName or a NextToken")
        start = int(NextToken or 0)
        page: dict[str, Any] = {"Shards": self.shards[start : start + MaxResults]}
        if start + MaxResults < len(self.shards):
            page["NextToken"] = str(start + MaxResults)
        return page


@pytest.mark.parametrize(("page_size", "calls"), [(1, 5), (2, 3), (5, 1), (1000, 1)])
def test_every_shard_is_listed_across_pages(page_size: int, calls: int) -> None:
    kinesis = PagedShards(5)
    assert shard_ids(kinesis, "wide", page_size=page_size) == [f"shardId-{number:012d}" for number in range(5)]
    assert kinesis.calls == calls


def test_the_emulators_shards_are_listed() -> None:
    with emulated_account():
        kinesis = boto3.client("kinesis", region_name=REGION)
        kinesis.create_stream(StreamName="wide", ShardCount=3)
        assert shard_ids(kinesis, "wide") == [f"shardId-{number:012d}" for number in range(3)]
