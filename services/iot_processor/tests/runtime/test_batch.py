"""The batch module on its own: the record handler's judgement of one record, and the partial processor that writes
a whole batch in its clean step, then reports each record exactly as its writes went (no AWS here; the handler's
tests run the same code on moto)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest.mock import MagicMock

import pytest
from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord

from services.iot_processor.runtime.batch import (
    AcceptedRecord,
    BatchOutcome,
    Judgement,
    ReadingBatchProcessor,
    ReadingProcessor,
    RefusedRecord,
)
from services.iot_processor.runtime.settings import Settings
from services.iot_processor.runtime.table import TimeLeft
from services.iot_processor.tests.harness import reading
from shared.readings.anomalies import DEFAULT_ANOMALY_BOUNDS
from shared.readings.schema import Reason
from shared.synthetic.kinesis_events import kinesis_event
from shared.synthetic.kpl import kpl_record

NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)


def _processor() -> ReadingProcessor:
    settings = Settings(
        table_name="readings",
        processed_bucket="processed",
        alert_topic_arn="arn:aws:sns:eu-west-1:123456789012:alerts",
        webhook_secret_arn=None,
        anomaly_bounds=DEFAULT_ANOMALY_BOUNDS,
        ttl_days=7,
        anomaly_ttl_days=90,
        anomaly_index_shards=4,
    )
    return ReadingProcessor(
        settings=settings,
        table=MagicMock(),
        bucket=MagicMock(),
        alerts=MagicMock(),
        webhook=None,
        metrics=MagicMock(),
        clock=lambda: NOW,
    )


def _record(data: bytes, *, sequence: int = 1000) -> KinesisStreamRecord:
    return KinesisStreamRecord(kinesis_event([data], first_sequence=sequence)["Records"][0])


# --- the record handler: one record's readings, each accepted or refused ----------------------------------------


def test_a_valid_reading_is_accepted_with_its_item_and_position() -> None:
    (judged,) = _processor().judge(_record(reading(timestamp=NOW.isoformat()), sequence=1007))
    assert isinstance(judged, AcceptedRecord)
    assert judged.position.sequence_number == "1007"
    assert judged.position.sub_record is None
    assert judged.item["sensor_id"] == {"S": "boiler-1"}


def test_an_invalid_reading_is_refused_with_its_reason_and_its_bytes() -> None:
    data = reading(timestamp=(NOW + timedelta(hours=1)).isoformat())
    (judged,) = _processor().judge(_record(data))
    assert isinstance(judged, RefusedRecord)
    assert judged.problem.reason is Reason.FUTURE_TIMESTAMP
    assert judged.data == data


def test_the_clock_decides_the_future_reading_at_the_handlers_now() -> None:
    """One second ahead of the handler's clock is within the skew the contract allows; an hour is not."""
    soon = _processor().judge(_record(reading(timestamp=(NOW + timedelta(seconds=1)).isoformat())))
    assert [type(judged) for judged in soon] == [AcceptedRecord]


def test_an_aggregate_is_judged_reading_by_reading_with_each_index() -> None:
    entries = [
        (f"pk-{i}", reading(sensor_id=f"s-{i}", timestamp=NOW.isoformat(), value=20 if i != 1 else "x"))
        for i in range(3)
    ]
    judgement = _processor().judge(_record(kpl_record(entries), sequence=2000))
    assert [type(judged) for judged in judgement] == [AcceptedRecord, RefusedRecord, AcceptedRecord]
    assert [judged.position.sub_record for judged in judgement] == [0, 1, 2]
    assert {judged.position.sequence_number for judged in judgement} == {"2000"}
    assert [judged.position.partition_key for judged in judgement] == ["pk-0", "pk-1", "pk-2"]


def test_a_corrupt_aggregate_is_refused_whole_as_one_record() -> None:
    corrupt = kpl_record([("pk", reading())])[:-3]  # its digest cut short
    (judged,) = _processor().judge(_record(corrupt))
    assert isinstance(judged, RefusedRecord)
    assert judged.problem.reason is Reason.CORRUPT_AGGREGATE
    assert judged.position.sub_record is None


# --- the partial processor: judged record by record, written in the clean step, reported as the writes went -------


class Settler:
    """Stands in for ReadingProcessor.settle: records what it was given, fails the sequence numbers it is told to."""

    def __init__(self, failed: Sequence[str] = ()) -> None:
        self.failed = frozenset(failed)
        self.calls: list[tuple[list[Judgement], float]] = []
        self.time_left: list[TimeLeft | None] = []

    def __call__(
        self, judgements: list[Judgement], *, started: float, time_left: TimeLeft | None = None
    ) -> BatchOutcome:
        self.calls.append((judgements, started))
        self.time_left.append(time_left)
        return BatchOutcome(
            received=len(judgements),
            aggregates=0,
            stored=len(judgements) - len(self.failed),
            quarantined=0,
            anomalies=0,
            failed_sequence_numbers=self.failed,
        )


def _run(
    settler: Settler, payloads: Sequence[bytes], *, handled: list[str] | None = None, context: Any = None
) -> dict[str, Any]:
    def judge(record: KinesisStreamRecord) -> Judgement:
        if handled is not None:
            handled.append(record.kinesis.sequence_number)
        return [MagicMock(name=record.kinesis.sequence_number)]

    processor = ReadingBatchProcessor(settle=settler)
    return dict(
        process_partial_response(
            event=kinesis_event(list(payloads)), record_handler=judge, processor=processor, context=context
        )
    )


class Remaining:
    """The one part of Lambda's context the clean step reads: the invocation's remaining time."""

    def __init__(self, millis: int) -> None:
        self.millis = millis

    def get_remaining_time_in_millis(self) -> int:
        return self.millis


def test_the_batch_is_settled_with_the_invocations_remaining_time() -> None:
    settler, remaining = Settler(), Remaining(42_000)
    _run(settler, [b"a"], context=remaining)
    (time_left,) = settler.time_left
    assert time_left is not None
    assert time_left() == 42.0
    remaining.millis = 1_500  # read when asked, not once
    assert time_left() == 1.5


def test_without_a_context_the_batch_is_settled_with_bounded_attempts_instead() -> None:
    settler = Settler()
    _run(settler, [b"a"])
    assert settler.time_left == [None]


def test_every_record_is_judged_once_in_order_and_the_batch_settled_once_after() -> None:
    settler, handled = Settler(), list[str]()
    before = time.perf_counter()
    response = _run(settler, [b"a", b"b", b"c"], handled=handled)
    assert handled == ["1000", "1001", "1002"]
    (judgements, started), *more = settler.calls
    assert more == []
    assert [getattr(judgement[0], "_mock_name", None) for judgement in judgements] == ["1000", "1001", "1002"]
    assert before <= started <= time.perf_counter()
    assert response == {"batchItemFailures": []}


def test_only_the_records_whose_writes_failed_are_reported_for_retry() -> None:
    response = _run(Settler(failed=["1001", "1003"]), [b"a", b"b", b"c", b"d"])
    assert response == {"batchItemFailures": [{"itemIdentifier": "1001"}, {"itemIdentifier": "1003"}]}


def test_a_batch_whose_every_record_failed_is_reported_not_raised() -> None:
    """A whole batch failing is an outage, not a broken function: every record goes back for retry."""
    response = _run(Settler(failed=["1000", "1001"]), [b"a", b"b"])
    assert response == {"batchItemFailures": [{"itemIdentifier": "1000"}, {"itemIdentifier": "1001"}]}


def test_the_reports_fill_powertools_own_lists_and_the_outcome() -> None:
    settler = Settler(failed=["1001"])
    processor = ReadingBatchProcessor(settle=settler)
    process_partial_response(
        event=kinesis_event([b"a", b"b", b"c"]), record_handler=lambda record: [MagicMock()], processor=processor
    )
    assert [_sequence_number(record) for record in processor.success_messages] == ["1000", "1002"]
    assert [_sequence_number(record) for record in processor.fail_messages] == ["1001"]
    assert len(processor.exceptions) == 1
    assert processor.outcome.failed_sequence_numbers == frozenset({"1001"})


def _sequence_number(record: object) -> str:
    assert isinstance(record, KinesisStreamRecord)
    return record.kinesis.sequence_number


def test_a_processor_used_again_forgets_the_last_batch() -> None:
    settler = Settler()
    processor = ReadingBatchProcessor(settle=settler)
    for payloads in ([b"a", b"b"], [b"c"]):
        process_partial_response(
            event=kinesis_event(payloads), record_handler=lambda record: [MagicMock()], processor=processor
        )
    assert [len(judgements) for judgements, _ in settler.calls] == [2, 1]
    assert len(processor.success_messages) == 1


@pytest.mark.parametrize("failed", [[], ["1000"]])
def test_nothing_is_reported_before_the_batch_is_written(failed: list[str]) -> None:
    """The record handler's pass reports nothing: a record is settled or failed only once its writes are done."""
    seen: list[int] = []
    processor = ReadingBatchProcessor(settle=Settler(failed=failed))

    def judge(record: KinesisStreamRecord) -> Judgement:
        seen.append(len(processor.success_messages) + len(processor.fail_messages))
        return [MagicMock()]

    process_partial_response(event=kinesis_event([b"a", b"b"]), record_handler=judge, processor=processor)
    assert seen == [0, 0]
