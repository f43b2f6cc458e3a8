"""A local Kinesis event source mapping that honours the deployed mapping's settings.

Per shard, one poller reads the stream and splits records over ``ParallelizationFactor`` lanes by partition
key (so order per key is kept, as in Lambda); each lane batches up to ``BatchSize`` records or
``MaximumBatchingWindowInSeconds``, invokes the function, and settles the result like Lambda does: with
``ReportBatchItemFailures`` it retries from the lowest failed sequence number; on a function error it
bisects (if ``BisectBatchOnFunctionError``) or retries; after ``MaximumRetryAttempts`` or past
``MaximumRecordAgeInSeconds`` it writes the batch, with its payload, to the S3 on-failure destination. A throttled
invocation is tried again after a pause, without using up a retry, until the records age out.

With a MetricPublisher it publishes what Lambda publishes for a stream mapping into the emulator's CloudWatch: per
invocation ``Invocations``, ``Errors``, ``Duration``, ``IteratorAge`` (the age of the batch's last record) and
``ConcurrentExecutions`` under the function, its alias and the version the alias ran, ``Throttles`` per refused
invocation, the mapping's event counts (its MetricsConfig: polled, invoked, delivered to the failure destination,
dropped) per ``EventSourceMappingUUID``, the stream reads' iterator age, and what DynamoDB counted of the function's
table writes.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from services.iot_processor.contract import Output
from shared.synthetic.kinesis_events import event_record
from tools.local.deploy import DeployedStack
from tools.local.function import InvocationResult, LocalFunction
from tools.local.metrics import MetricPublisher, StreamMetrics
from tools.local.shard_reader import IDLE_POLL_SECONDS, ShardReader, StreamPositions, kinesis_client, shard_ids
from tools.local.watchdog import ComponentFailure, ThreadGroup

logger = logging.getLogger(__name__)
THROTTLED_RETRY_SECONDS = 0.5  # Lambda backs off before trying a throttled batch again


@dataclass(frozen=True, kw_only=True)
class MappingSettings:
    mapping_id: str  # the deployed mapping's id: its metrics' EventSourceMappingUUID
    function_logical_id: str
    function_name: str
    alias_name: str  # the mapping invokes the function through this alias
    stream_name: str
    stream_arn: str
    batch_size: int
    batching_window_seconds: float
    parallelization_factor: int
    report_batch_item_failures: bool
    bisect_on_error: bool
    max_retry_attempts: int
    max_record_age_seconds: int
    starting_position: str
    on_failure_bucket: str | None

    @classmethod
    def from_stack(cls, stack: DeployedStack) -> MappingSettings:
        ((_, mapping),) = stack.resources_of_type("AWS::Lambda::EventSourceMapping").items()
        properties = mapping["Properties"]
        stream_logical_id = properties["EventSourceArn"]["Fn::GetAtt"][0]
        destination = properties.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        stream_name = stack.physical_ids[stream_logical_id]
        alias = _invoked_alias(stack, properties["FunctionName"])
        function_logical_id = alias["FunctionName"]["Ref"]
        return cls(
            mapping_id=stack.outputs[Output.EVENT_SOURCE_MAPPING_ID],
            function_logical_id=function_logical_id,
            function_name=stack.physical_ids[function_logical_id],
            alias_name=alias["Name"],
            stream_name=stream_name,
            stream_arn=boto3.client("kinesis").describe_stream_summary(StreamName=stream_name)[
                "StreamDescriptionSummary"
            ]["StreamARN"],
            batch_size=int(properties.get("BatchSize", 100)),
            batching_window_seconds=float(properties.get("MaximumBatchingWindowInSeconds", 0)),
            parallelization_factor=int(properties.get("ParallelizationFactor", 1)),
            report_batch_item_failures="ReportBatchItemFailures" in properties.get("FunctionResponseTypes", []),
            bisect_on_error=bool(properties.get("BisectBatchOnFunctionError", False)),
            max_retry_attempts=int(properties.get("MaximumRetryAttempts", -1)),
            max_record_age_seconds=int(properties.get("MaximumRecordAgeInSeconds", -1)),
            starting_position=str(properties["StartingPosition"]),
            on_failure_bucket=stack.physical_ids[destination["Fn::GetAtt"][0]] if destination else None,
        )


def _invoked_alias(stack: DeployedStack, function_name: Any) -> dict[str, Any]:
    """The alias a mapping's FunctionName (``<function>:<alias>``, joined from the alias's Ref) points at."""
    aliases = stack.resources_of_type("AWS::Lambda::Alias")
    (logical_id,) = [name for name in aliases if json.dumps({"Ref": name}) in json.dumps(function_name)]
    properties: dict[str, Any] = aliases[logical_id]["Properties"]
    return properties


LaneEntry = tuple[float, dict[str, Any]]  # when the record was read, the record


@dataclass
class MappingStats:
    invocations: int = 0
    function_errors: int = 0
    partial_failures: int = 0
    bisections: int = 0
    batches_to_failure_destination: int = 0
    settled: int = 0  # records settled so far: handled by the function, or sent to the failure destination
    throttles: int = 0
    dropped: int = 0  # records neither processed nor written to the failure destination
    completed_at: dict[str, float] = field(default_factory=dict)  # sequence number -> when its batch settled
    lock: threading.Lock = field(default_factory=threading.Lock)


class LocalEventSourceMapping:
    def __init__(
        self,
        settings: MappingSettings,
        function: LocalFunction,
        *,
        clock: Callable[[], float] = time.time,
        metrics: MetricPublisher | None = None,
    ) -> None:
        self.settings = settings
        self.stats = MappingStats()
        self._function = function
        self._clock = clock
        self._metrics = metrics
        self._stream_metrics = StreamMetrics(metrics, settings.stream_name) if metrics else None
        self._in_flight = 0
        self._kinesis = kinesis_client()
        self._s3 = boto3.client("s3")
        self._threads = ThreadGroup("event source mapping")
        self._stop = self._threads.stopping
        self._busy = 0
        self._busy_lock = threading.Lock()
        self._pending: list[list[LaneEntry]] = []
        self._readers: list[ShardReader] = []

    def start(self) -> None:
        for shard_id in shard_ids(self._kinesis, self.settings.stream_name):
            lanes: list[list[LaneEntry]] = [[] for _ in range(self.settings.parallelization_factor)]
            lane_locks = [threading.Lock() for _ in lanes]
            reader = ShardReader(
                self._kinesis,
                stream_name=self.settings.stream_name,
                shard_id=shard_id,
                position=self.settings.starting_position,
                deliver=partial(self._distribute, lanes, lane_locks),
                stop=self._stop,
            )
            self._readers.append(reader)
            self._threads.add(f"reader of {shard_id}", reader.run)
            for index in range(len(lanes)):
                self._threads.add(f"lane {index} of {shard_id}", self._run_lane, shard_id, lanes, lane_locks, index)
            self._pending.extend(lanes)
        self._threads.start()

    def idle(self, through: StreamPositions | None = None) -> bool:
        """True once every shard is read to its tip, past ``through``'s records, and no lane holds or invokes any."""
        with self._busy_lock:
            read = all(reader.at_tip_past(through or {}) for reader in self._readers)
            return read and self._busy == 0 and not any(self._pending)

    def stop(self, *, timeout: float | None = None) -> None:
        self._threads.stop(timeout=timeout)

    def failures(self) -> list[ComponentFailure]:
        """Its threads that ended on an error or before being stopped."""
        return self._threads.failures()

    @property
    def records_read(self) -> int:
        return sum(reader.delivered for reader in self._readers)

    def _distribute(self, lanes: list[list[LaneEntry]], locks: list[threading.Lock], records: list[Any]) -> None:
        """Split a shard's records over the lanes by partition key, so each key keeps its order; each with the time
        it was read, from which its batching window runs."""
        read_at = self._clock()
        if self._metrics is not None and self._stream_metrics is not None:
            self._stream_metrics.read(records, at=read_at)
            self._metrics.add("AWS/Lambda", "PolledEventCount", len(records), dimensions=self._mapping_dimensions)
        for record in records:
            lane = zlib.crc32(record["PartitionKey"].encode()) % len(lanes)
            with locks[lane]:
                lanes[lane].append((read_at, record))

    def _run_lane(self, shard_id: str, lanes: list[list[LaneEntry]], locks: list[threading.Lock], index: int) -> None:
        """Invoke with a full batch at once, or with what the lane holds once its oldest record has waited out the
        batching window (records that waited while the function was busy are not made to wait again)."""
        while not self._stop.is_set():
            with locks[index]:
                lane = lanes[index]
                full = len(lane) >= self.settings.batch_size
                window_over = bool(lane) and self._clock() - lane[0][0] >= self.settings.batching_window_seconds
                batch: list[dict[str, Any]] = []
                if full or window_over:
                    batch = [record for _, record in lane[: self.settings.batch_size]]
                    del lane[: len(batch)]
                    with self._busy_lock:
                        self._busy += 1
            if not batch:
                time.sleep(IDLE_POLL_SECONDS)
                continue
            try:
                self._settle(shard_id, batch, attempt=0)
            finally:
                with self._busy_lock:
                    self._busy -= 1

    def _settle(self, shard_id: str, batch: Sequence[dict[str, Any]], *, attempt: int) -> None:
        settings = self.settings
        while batch:
            oldest = batch[0]["ApproximateArrivalTimestamp"].timestamp()
            if settings.max_record_age_seconds >= 0 and self._clock() - oldest > settings.max_record_age_seconds:
                self._send_to_failure_destination(shard_id, batch, "RecordAgeExceeded", attempt)
                return
            result = self._invoke(shard_id, batch)
            if result.throttled:  # tried again after a pause; a throttle uses up no retry
                if self._stop.wait(THROTTLED_RETRY_SECONDS):
                    return
                continue
            if result.error is not None:
                self._count("function_errors")
                if settings.bisect_on_error and len(batch) > 1:
                    self._count("bisections")
                    middle = len(batch) // 2
                    self._settle(shard_id, batch[:middle], attempt=attempt)  # splitting does not use up retries
                    self._settle(shard_id, batch[middle:], attempt=attempt)
                    return
                failed_from = 0
            else:
                first_failed = self._first_failed(batch, result.response)
                if first_failed is None:
                    self._complete(batch)
                    return
                self._count("partial_failures")
                self._complete(batch[:first_failed])
                failed_from = first_failed
            attempt += 1
            batch = batch[failed_from:]
            if 0 <= settings.max_retry_attempts < attempt:
                self._send_to_failure_destination(shard_id, batch, "RetryAttemptsExhausted", attempt)
                return

    def _first_failed(self, batch: Sequence[dict[str, Any]], response: dict[str, Any] | None) -> int | None:
        if not self.settings.report_batch_item_failures or not response:
            return None
        failed = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
        positions = [i for i, record in enumerate(batch) if record["SequenceNumber"] in failed]
        return min(positions) if positions else None

    def _invoke(self, shard_id: str, batch: Sequence[dict[str, Any]]) -> InvocationResult:
        started = self._clock()
        with self._busy_lock:
            self._in_flight += 1
            concurrency = self._in_flight
        try:
            result = self._function.invoke(self._event(shard_id, batch))
        finally:
            with self._busy_lock:
                self._in_flight -= 1
        if result.throttled:
            self._count("throttles")
            self._publish_function("Throttles", 1, at=started)
        else:
            self._count("invocations")
            self._publish_invocation(batch, result, started=started, concurrency=concurrency)
        return result

    @property
    def _mapping_dimensions(self) -> dict[str, str]:
        return {"EventSourceMappingUUID": self.settings.mapping_id}

    def _publish_function(self, name: str, value: float, *, at: float, unit: str | None = None) -> None:
        """One of the function's metrics, under each dimension set Lambda publishes for an alias's invocation."""
        if self._metrics is None:
            return
        function, resource = self.settings.function_name, f"{self.settings.function_name}:{self.settings.alias_name}"
        for dimensions in (
            {"FunctionName": function},
            {"FunctionName": function, "Resource": resource},
            {"FunctionName": function, "Resource": resource, "ExecutedVersion": self._function.version},
        ):
            self._metrics.add("AWS/Lambda", name, value, dimensions=dimensions, unit=unit, at=at)

    def _publish_invocation(
        self, batch: Sequence[dict[str, Any]], result: InvocationResult, *, started: float, concurrency: int
    ) -> None:
        if self._metrics is None:
            return
        ended = self._clock()
        last_arrival = batch[-1]["ApproximateArrivalTimestamp"].timestamp()
        for name, value, unit in (
            ("Invocations", 1, "Count"),
            ("Errors", int(result.error is not None), "Count"),
            ("Duration", (ended - started) * 1000, "Milliseconds"),
            ("IteratorAge", max(0.0, started - last_arrival) * 1000, "Milliseconds"),
            ("ConcurrentExecutions", concurrency, "Count"),
        ):
            self._publish_function(name, value, at=started, unit=unit)
        self._metrics.add(
            "AWS/Lambda", "InvokedEventCount", len(batch), dimensions=self._mapping_dimensions, at=started
        )
        table = {"TableName": self._function.table_name}
        # DynamoDB publishes these only when they happen, in the second they happened.
        for name, counts, dimensions in (
            ("ConsumedWriteCapacityUnits", result.table.written, table),
            ("WriteThrottleEvents", result.table.throttled, table),
            ("SystemErrors", result.table.server_errors, {**table, "Operation": "BatchWriteItem"}),
        ):
            for second, count in counts.items():
                self._metrics.add("AWS/DynamoDB", name, count, dimensions=dimensions, at=second)

    def _event(self, shard_id: str, batch: Sequence[dict[str, Any]]) -> dict[str, Any]:
        return {
            "Records": [
                event_record(
                    shard_id=shard_id,
                    sequence_number=record["SequenceNumber"],
                    partition_key=record["PartitionKey"],
                    data=record["Data"],
                    arrival=record["ApproximateArrivalTimestamp"].timestamp(),
                    stream_arn=self.settings.stream_arn,
                )
                for record in batch
            ]
        }

    def _complete(self, records: Sequence[dict[str, Any]]) -> None:
        now = self._clock()
        with self.stats.lock:
            self.stats.settled += len(records)
            for record in records:
                self.stats.completed_at[record["SequenceNumber"]] = now

    def _count(self, name: str) -> None:
        with self.stats.lock:
            setattr(self.stats, name, getattr(self.stats, name) + 1)

    def _send_to_failure_destination(
        self, shard_id: str, batch: Sequence[dict[str, Any]], condition: str, attempts: int
    ) -> None:
        """Lambda's S3 on-failure record: invocation metadata plus the batch payload."""
        self._count("batches_to_failure_destination")
        if self.settings.on_failure_bucket is None:
            self._drop(batch)
            return
        now = datetime.now(UTC)
        document = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": self.settings.function_name,
                "condition": condition,
                "approximateInvokeCount": attempts,
            },
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "version": "1.0",
            "timestamp": now.isoformat(),
            "KinesisBatchInfo": {
                "shardId": shard_id,
                "startSequenceNumber": batch[0]["SequenceNumber"],
                "endSequenceNumber": batch[-1]["SequenceNumber"],
                "approximateArrivalOfFirstRecord": batch[0]["ApproximateArrivalTimestamp"].isoformat(),
                "approximateArrivalOfLastRecord": batch[-1]["ApproximateArrivalTimestamp"].isoformat(),
                "batchSize": len(batch),
                "streamArn": self.settings.stream_arn,
            },
            "payload": json.dumps(self._event(shard_id, batch)),
        }
        first = batch[0]["SequenceNumber"]
        key = f"aws/lambda/{self.settings.function_name}/{now:%Y/%m/%d/%H}/{shard_id}-{first}-{uuid.uuid4()}"
        try:
            self._s3.put_object(Bucket=self.settings.on_failure_bucket, Key=key, Body=json.dumps(document).encode())
        except (ClientError, BotoCoreError):
            logger.exception("the failure destination refused a batch of %d records: dropped", len(batch))
            self._drop(batch)
            return
        if self._metrics is not None:
            self._metrics.add(
                "AWS/Lambda", "OnFailureDestinationDeliveredEventCount", len(batch), dimensions=self._mapping_dimensions
            )
        self._complete(batch)

    def _drop(self, batch: Sequence[dict[str, Any]]) -> None:
        """Records Lambda gives up on without a destination to keep them: lost to the data path."""
        with self.stats.lock:
            self.stats.dropped += len(batch)
        if self._metrics is not None:
            self._metrics.add("AWS/Lambda", "DroppedEventCount", len(batch), dimensions=self._mapping_dimensions)
        self._complete(batch)
