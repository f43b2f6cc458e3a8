"""One Kinesis batch, settled: every record ends stored, quarantined with a reason, or reported as failed.

The batch runs through a Powertools partial batch processor in its documented shape for batch-wide work
(docs/decisions/0011): the record handler (``ReadingProcessor.judge``) judges each record on its own, and the
processor's clean step (``ReadingProcessor.settle``) writes what the whole batch judged, then reports each record
as settled or failed before Powertools builds the partial batch response.

A KPL aggregate is first split into its user records (aggregation.py), and each goes through the same contract
as a plain record; a corrupt aggregate is quarantined whole, as one record. Each record is judged inside a
guard: whatever its bytes, it becomes a checked table item or a quarantine entry, and no surprise in one record
can fail the others. Writes are batched across the whole invocation (BatchWriteItem, PublishBatch, one processed
object). A record is reported failed, and so retried by Lambda, only when a write failed for a reason a retry
can cure (aws_errors.Fault); an item the table refuses for its content is quarantined instead. Every write is
idempotent, so a retry never duplicates what succeeded. A failed reading from an aggregate reports its
aggregate's sequence number: Kinesis retries whole records.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.batch.base import SuccessResponse
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord

from services.iot_processor.contract import Metric, StreamPosition
from services.iot_processor.runtime.alerts import AlertTopic, Webhook
from services.iot_processor.runtime.aws_errors import AWS_FAILURES, describe
from services.iot_processor.runtime.metrics import emit
from services.iot_processor.runtime.objects import ProcessedBucket
from services.iot_processor.runtime.settings import Settings
from services.iot_processor.runtime.table import (
    ReadingKey,
    ReadingsTable,
    StoredReading,
    TimeLeft,
    WireItem,
    WriteOutcome,
    item_for,
    reading_key,
)
from shared.kinesis.aggregation import CorruptAggregateError, unpack
from shared.readings.anomalies import severity_of
from shared.readings.schema import InvalidReadingError, Reason, parse_reading

logger = Logger(child=True)
UNEXPECTED_DETAIL_LIMIT = 300


class ReadingNotSettledError(Exception):
    """Why a record is reported for retry: one of its writes failed."""


@dataclass(frozen=True, kw_only=True)
class BatchOutcome:
    received: int  # readings: the records of the batch, with each KPL aggregate counted as its user records
    aggregates: int
    stored: int
    quarantined: int
    anomalies: int
    alerts_refused: int = 0
    writes_throttled: int = 0
    failed_sequence_numbers: frozenset[str] = field(default_factory=frozenset)

    def summary(self) -> dict[str, int]:
        return {
            "received": self.received,
            "aggregates": self.aggregates,
            "stored": self.stored,
            "quarantined": self.quarantined,
            "anomalies": self.anomalies,
            "alerts_refused": self.alerts_refused,
            "writes_throttled": self.writes_throttled,
            "failed": len(self.failed_sequence_numbers),
        }


@dataclass(frozen=True, kw_only=True)
class AcceptedRecord:
    position: StreamPosition
    data: bytes
    stored: StoredReading
    item: WireItem
    key: ReadingKey


@dataclass(frozen=True, kw_only=True)
class RefusedRecord:
    position: StreamPosition
    data: bytes
    problem: InvalidReadingError


# What one Kinesis record holds: its readings (a KPL aggregate's user records), each accepted or refused.
Judgement = list[AcceptedRecord | RefusedRecord]


def position_of(record: KinesisStreamRecord) -> StreamPosition:
    payload = record.kinesis  # a new wrapper object on every access
    return StreamPosition(
        shard_id=record.event_id.split(":", 1)[0],
        sequence_number=payload.sequence_number,
        partition_key=payload.partition_key,
        arrival=datetime.fromtimestamp(payload.approximate_arrival_timestamp, tz=UTC),
    )


class ReadingProcessor:
    def __init__(
        self,
        *,
        settings: Settings,
        table: ReadingsTable,
        bucket: ProcessedBucket,
        alerts: AlertTopic,
        webhook: Webhook | None,
        metrics: Metrics,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._settings = settings
        self._table = table
        self._bucket = bucket
        self._alerts = alerts
        self._webhook = webhook
        self._metrics = metrics
        self._clock = clock

    def judge(self, record: KinesisStreamRecord) -> Judgement:
        """The record handler: one record's readings, each accepted or refused; never raises."""
        unpacked = self._unpack(record)
        if isinstance(unpacked, RefusedRecord):
            return [unpacked]
        now = self._clock()
        return [self._judge(position, data, now=now) for position, data in unpacked]

    def settle(
        self, judgements: Sequence[Judgement], *, started: float, time_left: TimeLeft | None = None
    ) -> BatchOutcome:
        """Write what the batch judged, in batches; the outcome names the records to retry. ``started`` is the
        batch's start on ``time.perf_counter``, for its duration metric; ``time_left``, the invocation's remaining
        seconds, for which throttled table writes are retried (ReadingsTable)."""
        accepted: list[AcceptedRecord] = []
        refused: list[RefusedRecord] = []
        for judgement in judgements:
            for judged in judgement:
                (accepted if isinstance(judged, AcceptedRecord) else refused).append(judged)  # type: ignore[arg-type]
        written = self._table.put_all((record.item for record in accepted), time_left=time_left)
        if written.failed:
            logger.warning("readings not stored after retries", extra={"count": len(written.failed)})
        refused += [
            RefusedRecord(
                position=record.position,
                data=record.data,
                problem=InvalidReadingError(Reason.REJECTED_BY_STORE, written.rejected[record.key]),
            )
            for record in accepted
            if record.key in written.rejected
        ]
        unsettled = written.failed | written.rejected.keys()
        stored = [record for record in accepted if record.key not in unsettled]
        alerted = self._alert([record.stored for record in stored if record.stored.severity is not None])
        retry = {record.position for record in accepted if record.key in written.failed | alerted.failed}
        stored = [record for record in stored if record.key not in alerted.failed]
        if stored and not self._write_processed(stored):
            retry |= {record.position for record in stored}
            stored = []
        quarantined = 0
        for refusal in refused:
            if self._quarantine(refusal):
                quarantined += 1
            else:
                retry.add(refusal.position)

        outcome = BatchOutcome(
            received=sum(len(judgement) for judgement in judgements),
            # a record's readings carry their index in it only when it was an aggregate that could be split
            aggregates=sum(1 for judgement in judgements if judgement[0].position.sub_record is not None),
            stored=len(stored),
            quarantined=quarantined,
            anomalies=sum(1 for record in stored if record.stored.severity is not None),
            alerts_refused=len(alerted.rejected),
            writes_throttled=written.throttled,
            failed_sequence_numbers=frozenset(position.sequence_number for position in retry),
        )
        self._record_metrics(outcome, elapsed_ms=(time.perf_counter() - started) * 1000)
        return outcome

    def _unpack(self, record: KinesisStreamRecord) -> list[tuple[StreamPosition, bytes]] | RefusedRecord:
        """The record's readings, each with its own position; a record that cannot be split is refused whole."""
        position = position_of(record)
        data = b""
        try:
            data = record.kinesis.data_as_bytes()
            unpacked = unpack(data, partition_key=position.partition_key)
        except CorruptAggregateError as problem:
            return RefusedRecord(
                position=position, data=data, problem=InvalidReadingError(Reason.CORRUPT_AGGREGATE, str(problem))
            )
        except Exception as error:  # one record's surprise must never fail the batch
            return _unprocessable(position, data, error)
        if not unpacked.aggregated:
            return [(position, data)]
        return [
            (replace(position, sub_record=index, partition_key=user.partition_key), user.data)
            for index, user in enumerate(unpacked.records)
        ]

    def _judge(self, position: StreamPosition, data: bytes, *, now: datetime) -> AcceptedRecord | RefusedRecord:
        """Parse, judge and build one reading's item; anything unexpected quarantines this reading alone."""
        try:
            reading = parse_reading(data, now=now)
            stored = StoredReading(reading=reading, severity=severity_of(reading, self._settings.anomaly_bounds))
            item = item_for(
                stored,
                ttl_days=self._settings.ttl_days,
                anomaly_ttl_days=self._settings.anomaly_ttl_days,
                index_shards=self._settings.anomaly_index_shards,
            )
        except InvalidReadingError as problem:
            return RefusedRecord(position=position, data=data, problem=problem)
        except Exception as error:  # one record's surprise must never fail the batch
            return _unprocessable(position, data, error)
        return AcceptedRecord(position=position, data=data, stored=stored, item=item, key=reading_key(reading))

    def _quarantine(self, record: RefusedRecord) -> bool:
        logger.info(
            "reading quarantined",
            extra={
                "reason": str(record.problem.reason),
                "detail": record.problem.detail,
                "sequence_number": record.position.sequence_number,
                "sub_record": record.position.sub_record,
            },
        )
        try:
            self._bucket.quarantine(record.position, record.data, record.problem)
        except AWS_FAILURES as error:
            logger.exception("quarantine write failed; the record will be retried", extra={"error": describe(error)})
            return False
        return True

    def _alert(self, anomalies: Sequence[StoredReading]) -> WriteOutcome:
        published = self._alerts.publish(anomalies)
        if self._webhook is not None:
            delivered = [item for item in anomalies if reading_key(item.reading) not in published.failed]
            if not self._webhook.notify(delivered):
                emit(self._metrics, Metric.WEBHOOK_FAILURES, 1)
        return published

    def _write_processed(self, stored: Sequence[AcceptedRecord]) -> bool:
        try:
            self._bucket.write_processed([(record.position, record.stored) for record in stored])
        except AWS_FAILURES as error:
            logger.exception(
                "processed output write failed; the batch's readings will be retried", extra={"error": describe(error)}
            )
            return False
        return True

    def _record_metrics(self, outcome: BatchOutcome, *, elapsed_ms: float) -> None:
        counts = {
            Metric.READINGS_RECEIVED: outcome.received,
            Metric.AGGREGATES_RECEIVED: outcome.aggregates,
            Metric.READINGS_STORED: outcome.stored,
            Metric.READINGS_QUARANTINED: outcome.quarantined,
            Metric.ANOMALIES_DETECTED: outcome.anomalies,
            Metric.ALERTS_REFUSED: outcome.alerts_refused,
            Metric.WRITES_THROTTLED: outcome.writes_throttled,
            Metric.READINGS_FAILED: len(outcome.failed_sequence_numbers),
        }
        for name, value in counts.items():
            emit(self._metrics, name, value)
        emit(self._metrics, Metric.BATCH_DURATION, elapsed_ms)


def _unprocessable(position: StreamPosition, data: bytes, error: Exception) -> RefusedRecord:
    logger.exception(
        "record unprocessable", extra={"sequence_number": position.sequence_number, "sub_record": position.sub_record}
    )
    detail = f"{type(error).__name__}: {error}"[:UNEXPECTED_DETAIL_LIMIT]
    return RefusedRecord(position=position, data=data, problem=InvalidReadingError(Reason.UNPROCESSABLE, detail))


class ReadingBatchProcessor(BatchProcessor):
    """Powertools' partial processor for Kinesis, with the batch-wide work in its clean step.

    Each record goes to the record handler (``ReadingProcessor.judge``) on its own. The clean step hands every
    judgement to ``settle``, which writes them in batches across the whole batch; only then is each record known
    to be settled or failed, so that is when it is reported, through Powertools' own success and failure handlers,
    before Powertools builds the partial batch response. One instance per invocation.
    """

    def __init__(self, settle: Callable[..., BatchOutcome]) -> None:
        # A batch whose every record failed is a transient outage (throttling, an S3 or SNS error), not a broken
        # function: report every record for retry instead of raising, so the Errors alarm keeps meaning "the code
        # crashed", and ReadingsFailed plus the iterator age show the outage (docs/runbooks.md).
        super().__init__(event_type=EventType.KinesisDataStreams, raise_on_entire_batch_failure=False)
        self._settle = settle
        self._judged: list[tuple[KinesisStreamRecord, str, Judgement]] = []
        self._started = 0.0
        self.outcome = BatchOutcome(received=0, aggregates=0, stored=0, quarantined=0, anomalies=0)

    def _prepare(self) -> None:
        super()._prepare()  # type: ignore[no-untyped-call]  # Powertools leaves its hooks unannotated
        self._judged.clear()
        self._started = time.perf_counter()

    def _process_record(self, record: dict[str, Any]) -> SuccessResponse:
        data = KinesisStreamRecord(record)
        judgement: Judgement = self.handler(record=data)
        self._judged.append((data, record["kinesis"]["sequenceNumber"], judgement))
        return ("judged", judgement, data)  # settled or failed once the clean step has written the batch

    def _clean(self) -> None:
        context = getattr(self, "lambda_context", None)  # Powertools sets it when the handler passes its context
        self.outcome = self._settle(
            [judgement for _, _, judgement in self._judged],
            started=self._started,
            time_left=(lambda: context.get_remaining_time_in_millis() / 1000) if context is not None else None,
        )
        failed = self.outcome.failed_sequence_numbers
        for data, sequence_number, judgement in self._judged:
            if sequence_number in failed:
                error = ReadingNotSettledError(sequence_number)
                self.failure_handler(record=data, exception=(ReadingNotSettledError, error, None))
            else:
                self.success_handler(record=data, result=judgement)
        super()._clean()  # type: ignore[no-untyped-call]
