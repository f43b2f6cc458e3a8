"""The readings table's item layout and its batch writer, without AWS: TTL, index keys, chunks, retries, backoff."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, cast

import pytest

from services.iot_processor.runtime.table import (
    ReadingsTable,
    StoredReading,
    WireItem,
    WriteOutcome,
    anomaly_shard,
    item_for,
)
from services.iot_processor.tests.harness import client_error, logged
from shared.readings.anomalies import Severity
from shared.readings.schema import Reading

AT = datetime(2026, 11, 27, 12, 0, 0, 250_000, tzinfo=UTC)
DAY = 86_400


def stored(
    sensor_id: str = "s-1", *, severity: Severity | None = None, synthetic_run: str | None = None, **fields: Any
) -> StoredReading:
    reading = Reading(
        sensor_id=sensor_id,
        sensor_type="temperature",
        value=Decimal("21.5"),
        timestamp=AT,
        reading_id=f"r-{sensor_id}",
        synthetic_run=synthetic_run,
        **fields,
    )
    return StoredReading(reading=reading, severity=severity)


def item(sensor_id: str = "s-1", **options: Any) -> WireItem:
    return item_for(stored(sensor_id, **options), ttl_days=7, anomaly_ttl_days=7, index_shards=4)


def test_a_normal_reading_is_one_item_in_wire_format_outside_the_anomaly_index() -> None:
    assert item(unit="C", site="plant-1", device="d-1") == {
        "sensor_id": {"S": "s-1"},
        "reading_key": {"S": "2026-11-27T12:00:00.250Z#r-s-1"},
        "reading_id": {"S": "r-s-1"},
        "sensor_type": {"S": "temperature"},
        "event_time": {"S": "2026-11-27T12:00:00.250Z"},
        "unit": {"S": "C"},
        "site": {"S": "plant-1"},
        "device": {"S": "d-1"},
        "value": {"N": "21.5"},
        "expires_at": {"N": str(int(AT.timestamp()) + 7 * DAY)},
        "anomaly": {"BOOL": False},
    }


def test_an_anomaly_carries_its_severity_and_the_sparse_index_keys() -> None:
    anomaly = item(severity=Severity.WARNING)
    assert anomaly["anomaly"] == {"BOOL": True}
    assert anomaly["severity"] == {"S": "warning"}
    assert anomaly["anomaly_partition"]["S"] in {f"temperature#{shard:02d}" for shard in range(4)}
    assert anomaly["anomaly_sort"] == {"S": "2026-11-27T12:00:00.250Z#s-1#r-s-1"}


@pytest.mark.parametrize("ttl_days", [1, 7, 400])
def test_an_item_expires_ttl_days_after_its_event_time(ttl_days: int) -> None:
    expires = item_for(stored(), ttl_days=ttl_days, anomaly_ttl_days=ttl_days, index_shards=4)["expires_at"]
    assert expires == {"N": str(int(AT.timestamp()) + ttl_days * DAY)}


def test_an_anomaly_expires_after_the_anomaly_ttl_and_a_plain_reading_after_the_table_ttl() -> None:
    plain = item_for(stored(), ttl_days=7, anomaly_ttl_days=90, index_shards=4)
    anomaly = item_for(stored(severity=Severity.WARNING), ttl_days=7, anomaly_ttl_days=90, index_shards=4)
    assert plain["expires_at"] == {"N": str(int(AT.timestamp()) + 7 * DAY)}
    assert anomaly["expires_at"] == {"N": str(int(AT.timestamp()) + 90 * DAY)}


def test_a_synthetic_reading_expires_after_one_day_whatever_the_table_ttl() -> None:
    for ttl_days in (7, 400):
        synthetic = item_for(
            stored(synthetic_run="smoke-1"), ttl_days=ttl_days, anomaly_ttl_days=ttl_days, index_shards=4
        )
        assert synthetic["expires_at"] == {"N": str(int(AT.timestamp()) + DAY)}
        assert synthetic["synthetic_run"] == {"S": "smoke-1"}


def test_anomaly_shards_stay_below_the_count_and_spread_over_all_of_them() -> None:
    readings = [stored(f"s-{i}").reading for i in range(200)]
    assert {anomaly_shard(reading, 4) for reading in readings} == {0, 1, 2, 3}
    assert {anomaly_shard(reading, 1) for reading in readings} == {0}
    assert anomaly_shard(readings[0], 16) == anomaly_shard(readings[0], 16)  # stable: a retry lands on the same shard
    partitions = {
        item_for(stored(f"s-{i}", severity=Severity.WARNING), ttl_days=7, anomaly_ttl_days=7, index_shards=12)[
            "anomaly_partition"
        ]["S"]
        for i in range(300)
    }
    assert "temperature#11" in partitions  # two digits, up to shards - 1
    assert "temperature#12" not in partitions


def test_text_that_cannot_be_encoded_fails_for_its_own_item() -> None:
    with pytest.raises(UnicodeEncodeError):
        item(site="\ud800")


# --- put_all -----------------------------------------------------------------------------------------------------


class ScriptedDynamoDB:
    """BatchWriteItem answers from a script: per call, the sensor ids left unprocessed or an error to raise."""

    def __init__(self, *script: set[str] | Exception) -> None:
        self._script = list(script)
        self.requests: list[list[str]] = []

    def batch_write_item(self, *, RequestItems: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:  # noqa: N803
        (entries,) = RequestItems.values()
        self.requests.append([entry["PutRequest"]["Item"]["sensor_id"]["S"] for entry in entries])
        step = self._script.pop(0) if self._script else set()
        if isinstance(step, Exception):
            raise step
        left = [entry for entry in entries if entry["PutRequest"]["Item"]["sensor_id"]["S"] in step]
        return {"UnprocessedItems": {"readings": left}} if left else {}  # no UnprocessedItems when all were written


def table(client: ScriptedDynamoDB, *, sleep: Callable[[float], None] = lambda _: None) -> ReadingsTable:
    return ReadingsTable(client=cast(Any, client), table_name="readings", sleep=sleep)


def keys(*sensor_ids: str) -> frozenset[tuple[str, str]]:
    return frozenset((sensor_id, f"2026-11-27T12:00:00.250Z#r-{sensor_id}") for sensor_id in sensor_ids)


def test_items_go_in_chunks_of_25_with_duplicates_written_once() -> None:
    client = ScriptedDynamoDB()
    items = [item(f"s-{i}") for i in range(51)] + [item("s-0")]
    assert table(client).put_all(items) == WriteOutcome()
    assert [len(request) for request in client.requests] == [25, 25, 1]
    assert sorted(sensor for request in client.requests for sensor in request) == sorted(f"s-{i}" for i in range(51))


def test_nothing_to_write_makes_no_call() -> None:
    client = ScriptedDynamoDB()
    assert table(client).put_all([]) == WriteOutcome()
    assert client.requests == []


def test_only_the_unprocessed_items_are_sent_again() -> None:
    client = ScriptedDynamoDB({"s-1", "s-2"}, {"s-2"}, set())
    assert table(client).put_all([item("s-0"), item("s-1"), item("s-2")]) == WriteOutcome(throttled=3)
    assert client.requests == [["s-0", "s-1", "s-2"], ["s-1", "s-2"], ["s-2"]]


def test_six_attempts_then_the_items_still_unprocessed_are_failed() -> None:
    client = ScriptedDynamoDB(*[{"s-1"}] * 6)
    outcome = table(client).put_all([item("s-0"), item("s-1")])
    assert outcome == WriteOutcome(failed=keys("s-1"), throttled=5)
    assert len(client.requests) == 6


def test_success_at_the_last_attempt_fails_nothing() -> None:
    client = ScriptedDynamoDB(*[{"s-1"}] * 5)
    assert table(client).put_all([item("s-0"), item("s-1")]) == WriteOutcome(throttled=5)
    assert len(client.requests) == 6


def test_backoff_doubles_with_full_jitter(monkeypatch: pytest.MonkeyPatch) -> None:
    ranges: list[tuple[float, float]] = []

    def uniform(low: float, high: float) -> float:
        ranges.append((low, high))
        return high

    monkeypatch.setattr(random, "uniform", uniform)
    slept: list[float] = []
    client = ScriptedDynamoDB(*[{"s-0"}] * 6)
    table(client, sleep=slept.append).put_all([item("s-0")])
    assert ranges == [(0, 0.05 * 2**attempt) for attempt in range(1, 6)]  # none before the first attempt
    assert slept == [0.1, 0.2, 0.4, 0.8, 1.6]


class Invocation:
    """An invocation's clock: the table's sleeps pass its time, ``time_left`` reads what remains."""

    def __init__(self, seconds: float) -> None:
        self.remaining = seconds
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.remaining -= seconds

    def time_left(self) -> float:
        return self.remaining


def test_with_time_left_throttled_writes_are_retried_past_the_attempts_until_they_land(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(random, "uniform", lambda low, high: high)
    invocation = Invocation(120)
    client = ScriptedDynamoDB(*[{"s-1"}] * 20, set())  # throttled 20 times: far past the 6 attempts
    outcome = table(client, sleep=invocation.sleep).put_all([item("s-0"), item("s-1")], time_left=invocation.time_left)
    assert outcome == WriteOutcome(throttled=20)
    assert len(client.requests) == 21
    assert max(invocation.slept) == 2.0  # the backoff stops doubling at its ceiling
    assert invocation.slept[:5] == [0.1, 0.2, 0.4, 0.8, 1.6]


def test_with_time_left_retries_stop_at_the_reserve_and_report_what_is_left(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(random, "uniform", lambda low, high: high)
    invocation = Invocation(30)
    client = ScriptedDynamoDB(*[{"s-1"}] * 100)
    outcome = table(client, sleep=invocation.sleep).put_all([item("s-0"), item("s-1")], time_left=invocation.time_left)
    assert outcome.failed == keys("s-1")
    # Retried while more than the 20 s reserve remained: 0.1 + ... + 1.6 s, then 2 s steps from 26.9 s down to 20.9 s.
    assert invocation.remaining == pytest.approx(30 - 3.1 - 4 * 2.0)
    assert 20 - 2.0 < invocation.remaining <= 20 + 2.0
    assert outcome.throttled == len(client.requests) - 1


def test_without_time_left_the_reserve_changes_nothing() -> None:
    client = ScriptedDynamoDB(*[{"s-1"}] * 6)
    assert table(client).put_all([item("s-1")]).failed == keys("s-1")
    assert len(client.requests) == 6


def test_a_transient_error_is_retried_like_unprocessed_items() -> None:
    client = ScriptedDynamoDB(client_error("ProvisionedThroughputExceededException", "BatchWriteItem"), set())
    assert table(client).put_all([item("s-0")]) == WriteOutcome(throttled=1)
    assert len(client.requests) == 2


def test_a_systemic_error_fails_the_chunk_without_retrying(caplog: pytest.LogCaptureFixture) -> None:
    client = ScriptedDynamoDB(client_error("AccessDeniedException", "BatchWriteItem"))
    outcome = table(client).put_all([item("s-0"), item("s-1")])
    assert outcome == WriteOutcome(failed=keys("s-0", "s-1"))
    assert len(client.requests) == 1
    (record,) = logged(caplog, "readings table refused the batch")
    assert record["error"] == "ClientError AccessDeniedException: AccessDeniedException (injected)"


def test_a_refused_chunk_is_written_item_by_item_and_only_the_refused_item_is_rejected(
    caplog: pytest.LogCaptureFixture,
) -> None:
    refusal = client_error("ValidationException", "BatchWriteItem")
    client = ScriptedDynamoDB(refusal, set(), refusal, set())
    outcome = table(client).put_all([item("s-0"), item("s-1"), item("s-2")])
    described = "ClientError ValidationException: ValidationException (injected)"
    assert outcome.failed == frozenset()
    assert dict(outcome.rejected) == {next(iter(keys("s-1"))): described}
    assert client.requests == [["s-0", "s-1", "s-2"], ["s-0"], ["s-1"], ["s-2"]]
    assert [record["error"] for record in logged(caplog, "readings table refused an item")] == [described]


def test_outcomes_combine_failed_and_rejected_keys() -> None:
    first = WriteOutcome(failed=keys("a"), rejected={("b", "k"): "why"})
    second = WriteOutcome(failed=keys("c"), rejected={("d", "k"): "because"})
    assert first | second == WriteOutcome(failed=keys("a", "c"), rejected={("b", "k"): "why", ("d", "k"): "because"})


def test_queries_that_find_nothing_return_nothing() -> None:
    class Empty:
        def __init__(self) -> None:
            self.queries: list[dict[str, Any]] = []

        def query(self, **query: Any) -> dict[str, Any]:
            self.queries.append(query)
            return {}  # a response without Items reads as nothing found

        def get_paginator(self, _: str) -> Empty:
            return self

        def paginate(self, **_: Any) -> list[dict[str, Any]]:
            return [{}]

    client = Empty()
    table = ReadingsTable(client=cast(Any, client), table_name="readings")
    assert table.latest("s-1") == []
    ((query),) = client.queries
    assert (query["Limit"], query["ScanIndexForward"]) == (10, False)  # the ten newest by default
    assert table.anomalies("temperature", AT, AT, shards=2) == []


def test_event_time_windows_of_anomalies_include_the_start_and_exclude_the_end() -> None:
    class Paginated:
        def __init__(self) -> None:
            self.queries: list[dict[str, Any]] = []

        def get_paginator(self, _: str) -> Paginated:
            return self

        def paginate(self, **query: Any) -> list[dict[str, Any]]:
            self.queries.append(query)
            shard = query["ExpressionAttributeValues"][":p"]["S"]
            times = ["2026-11-27T12:00:00.000Z", "2026-11-27T12:05:00.000Z"] if shard.endswith("01") else []
            return [{"Items": [{"event_time": {"S": t}, "anomaly_sort": {"S": f"{t}#{shard}"}} for t in times]}]

    client = Paginated()
    found = ReadingsTable(client=cast(Any, client), table_name="readings").anomalies(
        "temperature", datetime(2026, 11, 27, 12, tzinfo=UTC), datetime(2026, 11, 27, 12, 5, tzinfo=UTC), shards=3
    )
    assert [entry["event_time"] for entry in found] == ["2026-11-27T12:00:00.000Z"]
    assert [query["ExpressionAttributeValues"][":p"]["S"] for query in client.queries] == [
        "temperature#00",
        "temperature#01",
        "temperature#02",
    ]
    assert client.queries[0]["ExpressionAttributeValues"][":lower"] == {"S": "2026-11-27T12:00:00.000Z"}
    assert client.queries[0]["IndexName"] == "anomalies_by_type"
