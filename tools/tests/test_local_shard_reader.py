"""The shard reader both local consumers use: pages delivered in order, the tip detected, read errors retried."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from tools.local.shard_reader import IDLE_POLL_SECONDS, MAX_IDLE_POLL_SECONDS, ShardReader


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
    response: dict[str, Any] = {"NextShardIterator": next_iterator, "Records": [{"Data": r} for r in records]}
    if behind is not None:
        response["MillisBehindLatest"] = behind
    return response


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
    assert delivered == [[{"Data": "a"}, {"Data": "b"}], [{"Data": "c"}]]
    assert sleeps == []  # no pause while there is data
    assert reader.at_tip is False


@pytest.mark.parametrize(("behind", "at_tip"), [(0, True), (None, True), (1, False)])
def test_the_tip_is_an_empty_page_with_nothing_behind(sleeps: list[float], behind: int | None, at_tip: bool) -> None:
    reader, _, delivered = read(page("iterator-1", "a"), page("iterator-2", behind=behind))
    assert reader.at_tip is at_tip
    assert delivered == [[{"Data": "a"}]]
    assert sleeps == [IDLE_POLL_SECONDS]  # an empty page: pause before polling again


def test_empty_pages_in_a_row_double_the_pause_up_to_once_a_second_and_records_reset_it(sleeps: list[float]) -> None:
    empty = [page(f"iterator-{index}") for index in range(7)]
    read(*empty, page("iterator-7", "a"), page("iterator-8"))
    assert IDLE_POLL_SECONDS == 0.05
    assert MAX_IDLE_POLL_SECONDS == 1.0
    assert sleeps == [0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 0.05]


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
    assert delivered == [[{"Data": "a"}], [{"Data": "b"}]]
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
