"""One Kinesis batch, settled: every record ends stored, quarantined with a reason, or reported as failed.

A KPL aggregate is first split into its user records (aggregation.py), and each goes through the same contract
as a plain record; a corrupt aggregate is quarantined whole, as one record. Each record is judged on its own,
inside a guard: whatever its bytes, it becomes a checked table item or a quarantine entry, and no surprise in
one record can fail the others. Writes are then batched across the whole invocation (BatchWriteItem,
PublishBatch, one processed object). A record is reported failed, and so retried by Lambda, only when a write
failed for a reason a retry can cure (aws_errors.Fault); an item the table refuses for its content is
quarantined instead. Every write is idempotent, so a retry never duplicates what succeeded.
A failed reading from an aggregate reports its aggregate's sequence number: Kinesis retries whole records.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord

from services.iot_processor.contract import StreamPosition
from services.iot_processor.runtime.alerts import AlertTopic, Webhook
from services.iot_processor.runtime.aws_errors import AWS_FAILURES, describe
from services.iot_processor.runtime.objects import ProcessedBucket
from services.iot_processor.runtime.settings import Settings
from services.iot_processor.runtime.table import (
    ReadingKey,
    ReadingsTable,
    StoredReading,
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
    """Raised for a record whose writes failed, so the batch processor reports it for retry."""


@dataclass(frozen=True, kw_only=True)
class BatchOutcome:
    received: int  # readings: the records of the batch, with each KPL aggregate counted as its user records
    aggregates: int
    stored: int
    quarantined: int
    anomalies: int
    alerts_refused: int = 0
    failed_sequence_numbers: frozenset[str] = field(default_factory=frozenset)

    def summary(self) -> dict[str, int]:
        return {
            "received": self.received,
            "aggregates": self.aggregates,
            "stored": self.stored,
            "quarantined": self.quarantined,
            "anomalies": self.anomalies,
            "alerts_refused": self.alerts_refused,
            "failed": len(self.failed_sequence_numbers),
        }

    def confirm(self, record: KinesisStreamRecord) -> None:
        """The record handler of the BatchProcessor: raise for records that must be retried."""
        if record.kinesis.sequence_number in self.failed_sequence_numbers:
            raise ReadingNotSettledError(record.kinesis.sequence_number)


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

    def process(self, records: Sequence[KinesisStreamRecord]) -> BatchOutcome:
        started = time.perf_counter()
        now = self._clock()
        accepted: list[AcceptedRecord] = []
        refused: list[RefusedRecord] = []
        received = aggregates = 0
        for record in records:
            unpacked = self._unpack(record)
            if isinstance(unpacked, RefusedRecord):
                refused.append(unpacked)
                received += 1
                continue
            aggregates += any(position.sub_record is not None for position, _ in unpacked)
            received += len(unpacked)
            for position, data in unpacked:
                judged = self._judge(position, data, now=now)
                if isinstance(judged, AcceptedRecord):
                    accepted.append(judged)
                else:
                    refused.append(judged)

        written = self._table.put_all(record.item for record in accepted)
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
            received=received,
            aggregates=aggregates,
            stored=len(stored),
            quarantined=quarantined,
            anomalies=sum(1 for record in stored if record.stored.severity is not None),
            alerts_refused=len(alerted.rejected),
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
            item = item_for(stored, ttl_days=self._settings.ttl_days, index_shards=self._settings.anomaly_index_shards)
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
                self._metrics.add_metric(name="WebhookFailures", unit=MetricUnit.Count, value=1)
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
            "ReadingsReceived": outcome.received,
            "AggregatesReceived": outcome.aggregates,
            "ReadingsStored": outcome.stored,
            "ReadingsQuarantined": outcome.quarantined,
            "AnomaliesDetected": outcome.anomalies,
            "AlertsRefused": outcome.alerts_refused,
            "ReadingsFailed": len(outcome.failed_sequence_numbers),
        }
        for name, value in counts.items():
            self._metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
        self._metrics.add_metric(name="BatchDuration", unit=MetricUnit.Milliseconds, value=elapsed_ms)


def _unprocessable(position: StreamPosition, data: bytes, error: Exception) -> RefusedRecord:
    logger.exception(
        "record unprocessable", extra={"sequence_number": position.sequence_number, "sub_record": position.sub_record}
    )
    detail = f"{type(error).__name__}: {error}"[:UNEXPECTED_DETAIL_LIMIT]
    return RefusedRecord(position=position, data=data, problem=InvalidReadingError(Reason.UNPROCESSABLE, detail))
