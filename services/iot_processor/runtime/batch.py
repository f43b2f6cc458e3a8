"""One Kinesis batch, settled: every record ends stored, quarantined with a reason, or reported as failed.

Writes are batched across the whole invocation (BatchWriteItem, PublishBatch, one processed object), so the
per-record step only checks each record's outcome; records reported failed are retried by Lambda, and
every write is idempotent, so a retry never duplicates what already succeeded.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord
from botocore.exceptions import ClientError

from services.iot_processor.runtime.alerts import AlertTopic, Webhook
from services.iot_processor.runtime.objects import ProcessedBucket, StreamPosition
from services.iot_processor.runtime.settings import Settings
from services.iot_processor.runtime.table import ReadingKey, ReadingsTable, StoredReading, item_for, reading_key
from shared.readings.anomalies import severity_of
from shared.readings.schema import InvalidReadingError, parse_reading

logger = Logger(child=True)


class ReadingNotSettledError(Exception):
    """Raised for a record whose writes failed, so the batch processor reports it for retry."""


@dataclass(frozen=True, kw_only=True)
class BatchOutcome:
    received: int
    stored: int
    quarantined: int
    anomalies: int
    failed_sequence_numbers: frozenset[str] = field(default_factory=frozenset)

    def summary(self) -> dict[str, int]:
        return {
            "received": self.received,
            "stored": self.stored,
            "quarantined": self.quarantined,
            "anomalies": self.anomalies,
            "failed": len(self.failed_sequence_numbers),
        }

    def confirm(self, record: KinesisStreamRecord) -> None:
        """The record handler of the BatchProcessor: raise for records that must be retried."""
        if record.kinesis.sequence_number in self.failed_sequence_numbers:
            raise ReadingNotSettledError(record.kinesis.sequence_number)


def position_of(record: KinesisStreamRecord) -> StreamPosition:
    return StreamPosition(
        shard_id=record.event_id.split(":", 1)[0],
        sequence_number=record.kinesis.sequence_number,
        partition_key=record.kinesis.partition_key,
        arrival=datetime.fromtimestamp(record.kinesis.approximate_arrival_timestamp, tz=UTC),
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
        failed: set[str] = set()
        valid: list[tuple[StreamPosition, StoredReading]] = []
        quarantined = 0
        for record in records:
            position = position_of(record)
            data = record.kinesis.data_as_bytes()
            try:
                reading = parse_reading(data, now=now)
            except InvalidReadingError as problem:
                if self._quarantine(position, data, problem):
                    quarantined += 1
                else:
                    failed.add(position.sequence_number)
                continue
            valid.append(
                (position, StoredReading(reading=reading, severity=severity_of(reading, self._settings.anomaly_bounds)))
            )

        failed_keys = self._store(valid)
        stored = [(position, item) for position, item in valid if reading_key(item.reading) not in failed_keys]
        anomalies = [item for _, item in stored if item.severity is not None]
        failed_keys |= self._alert(anomalies)
        stored = [(position, item) for position, item in stored if reading_key(item.reading) not in failed_keys]
        failed |= {position.sequence_number for position, item in valid if reading_key(item.reading) in failed_keys}
        if stored and not self._write_processed(stored):
            failed |= {position.sequence_number for position, _ in stored}
            stored = []

        outcome = BatchOutcome(
            received=len(records),
            stored=len(stored),
            quarantined=quarantined,
            anomalies=sum(1 for _, item in stored if item.severity is not None),
            failed_sequence_numbers=frozenset(failed),
        )
        self._record_metrics(outcome, elapsed_ms=(time.perf_counter() - started) * 1000)
        return outcome

    def _quarantine(self, position: StreamPosition, data: bytes, problem: InvalidReadingError) -> bool:
        logger.info(
            "reading quarantined",
            extra={
                "reason": str(problem.reason),
                "detail": problem.detail,
                "sequence_number": position.sequence_number,
            },
        )
        try:
            self._bucket.quarantine(position, data, problem)
        except ClientError:
            logger.exception("quarantine write failed; the record will be retried")
            return False
        return True

    def _store(self, valid: Sequence[tuple[StreamPosition, StoredReading]]) -> set[ReadingKey]:
        items = [
            item_for(item, ttl_days=self._settings.ttl_days, index_shards=self._settings.anomaly_index_shards)
            for _, item in valid
        ]
        failed = self._table.put_all(items)
        if failed:
            logger.warning("readings not stored after retries", extra={"count": len(failed)})
        return failed

    def _alert(self, anomalies: Sequence[StoredReading]) -> set[ReadingKey]:
        failed = self._alerts.publish(anomalies)
        if self._webhook is not None:
            delivered = [item for item in anomalies if reading_key(item.reading) not in failed]
            if not self._webhook.notify(delivered):
                self._metrics.add_metric(name="WebhookFailures", unit=MetricUnit.Count, value=1)
        return failed

    def _write_processed(self, stored: Sequence[tuple[StreamPosition, StoredReading]]) -> bool:
        try:
            self._bucket.write_processed(stored)
        except ClientError:
            logger.exception("processed output write failed; the batch's readings will be retried")
            return False
        return True

    def _record_metrics(self, outcome: BatchOutcome, *, elapsed_ms: float) -> None:
        counts = {
            "ReadingsReceived": outcome.received,
            "ReadingsStored": outcome.stored,
            "ReadingsQuarantined": outcome.quarantined,
            "AnomaliesDetected": outcome.anomalies,
            "ReadingsFailed": len(outcome.failed_sequence_numbers),
        }
        for name, value in counts.items():
            self._metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
        self._metrics.add_metric(name="BatchDuration", unit=MetricUnit.Milliseconds, value=elapsed_ms)
