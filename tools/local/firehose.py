"""A local Kinesis Data Firehose, configured from the deployed delivery stream's template properties.

It reads the source stream, splits KPL aggregates into their user records (as Firehose does), runs the
MetadataExtraction processor's JQ query (the real query, with the jq library), appends the
AppendDelimiterToRecord delimiter, buffers per partition, and writes compressed objects under the prefix
with ``!{partitionKeyFromQuery:...}`` filled in. Records whose extraction fails go under the error output
prefix as Firehose error records (rawData in base64), so nothing is dropped.

With a MetricPublisher it publishes what Firehose publishes for each delivery to S3 (``DeliveryToS3.Records``,
``.Success`` and ``.DataFreshness``: the age of the oldest record delivered), and, since it reads every record of
the stream from its start, what Kinesis publishes of the records put to it.
"""

from __future__ import annotations

import base64
import gzip
import json
import re
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
import jq

from services.iot_archive.contract import Output
from shared.kinesis.aggregation import CorruptAggregateError, unpack
from tools.local.deploy import DeployedStack
from tools.local.metrics import MetricPublisher, StreamMetrics
from tools.local.shard_reader import ShardReader, StreamPositions, kinesis_client, shard_ids
from tools.local.watchdog import ComponentFailure, ThreadGroup

_PLACEHOLDER = re.compile(r"!\{([a-zA-Z]+):([^}]+)\}")


@dataclass(frozen=True, kw_only=True)
class DeliverySettings:
    delivery_stream_name: str  # as the deployed stack names it: its metrics' DeliveryStreamName
    stream_name: str
    bucket: str
    prefix: str
    error_prefix: str
    compression: str
    buffer_seconds: int
    buffer_bytes: int
    partition_query: str | None
    delimiter: str

    @classmethod
    def from_stack(cls, stack: DeployedStack) -> DeliverySettings:
        ((_, resource),) = stack.resources_of_type("AWS::KinesisFirehose::DeliveryStream").items()
        properties = resource["Properties"]
        destination = properties["ExtendedS3DestinationConfiguration"]
        source_arn = _resolve(properties["KinesisStreamSourceConfiguration"]["KinesisStreamARN"], stack)
        parameters = {
            p["ParameterName"]: p["ParameterValue"]
            for processor in destination.get("ProcessingConfiguration", {}).get("Processors", [])
            for p in processor.get("Parameters", [])
        }
        hints = destination.get("BufferingHints", {})
        return cls(
            delivery_stream_name=stack.outputs[Output.DELIVERY_STREAM_NAME],
            stream_name=source_arn.rsplit("/", 1)[-1],
            bucket=stack.physical_ids[destination["BucketARN"]["Fn::GetAtt"][0]],
            prefix=destination.get("Prefix", ""),
            error_prefix=destination.get("ErrorOutputPrefix", ""),
            compression=destination.get("CompressionFormat", "UNCOMPRESSED"),
            buffer_seconds=int(hints.get("IntervalInSeconds", 300)),
            buffer_bytes=int(hints.get("SizeInMBs", 5)) * 1024 * 1024,
            partition_query=parameters.get("MetadataExtractionQuery"),
            delimiter=parameters.get("Delimiter", "").encode().decode("unicode_escape"),
        )


def _resolve(value: Any, stack: DeployedStack) -> str:
    """The stream ARN arrives through an SSM-typed template parameter: read the parameter it names."""
    if isinstance(value, dict) and "Ref" in value:
        parameter = stack.template["Parameters"][value["Ref"]]["Default"]
        return str(boto3.client("ssm").get_parameter(Name=parameter)["Parameter"]["Value"])
    return str(value)


@dataclass
class _Buffer:
    chunks: list[bytes] = field(default_factory=list)
    size: int = 0  # kept as chunks arrive: summing them on every record made buffering quadratic
    oldest_arrival: float | None = None


@dataclass
class DeliveryStats:
    records: int = 0  # buffered for a partition of their own
    errors: int = 0  # buffered for the error prefix
    objects: int = 0
    delivered: int = 0  # written to the bucket, readings and errors

    lock: threading.Lock = field(default_factory=threading.Lock)


class LocalFirehose:
    def __init__(self, settings: DeliverySettings, *, metrics: MetricPublisher | None = None) -> None:
        self.settings = settings
        self._metrics = metrics
        self._stream_metrics = StreamMetrics(metrics, settings.stream_name) if metrics else None
        self.stats = DeliveryStats()
        self._query = jq.compile(settings.partition_query) if settings.partition_query else None
        self._kinesis = kinesis_client()
        self._s3 = boto3.client("s3")
        self._buffers: dict[str, _Buffer] = defaultdict(_Buffer)
        self._buffer_started = time.monotonic()
        self._lock = threading.Lock()
        self._threads = ThreadGroup("local Firehose")
        self._stop = self._threads.stopping
        self._readers: list[ShardReader] = []

    def start(self) -> None:
        for shard_id in shard_ids(self._kinesis, self.settings.stream_name):
            reader = ShardReader(
                self._kinesis,
                stream_name=self.settings.stream_name,
                shard_id=shard_id,
                position="TRIM_HORIZON",
                deliver=self._accept_all,
                stop=self._stop,
            )
            self._readers.append(reader)
            self._threads.add(f"reader of {shard_id}", reader.run)
        self._threads.add("buffer flush", self._flush_on_interval)
        self._threads.start()

    def caught_up(self, through: StreamPositions | None = None) -> bool:
        """True once every shard is read to its tip, past ``through``'s records: all of them are in a buffer."""
        return all(reader.at_tip_past(through or {}) for reader in self._readers)

    def drain(self) -> None:
        """Write every buffer now, as Firehose does when its buffer interval ends."""
        with self._lock:
            buffers, self._buffers = self._buffers, defaultdict(_Buffer)
            self._buffer_started = time.monotonic()
        for key_prefix, buffer in buffers.items():
            self._write(key_prefix, buffer)

    def stop(self, *, timeout: float | None = None, drain: bool = True) -> None:
        """Stop reading; unless told not to (the archive's emulator may be gone), write what is buffered."""
        self._threads.stop(timeout=timeout)
        if drain:
            self.drain()

    def failures(self) -> list[ComponentFailure]:
        """Its threads that ended on an error or before being stopped."""
        return self._threads.failures()

    @property
    def records_read(self) -> int:
        return sum(reader.delivered for reader in self._readers)

    def _accept_all(self, records: list[Any]) -> None:
        if self._stream_metrics is not None:
            self._stream_metrics.read(records, at=time.time())
            self._stream_metrics.incoming(records)
        for record in records:
            for data in deaggregated(record["Data"]):
                self._accept(data, record["ApproximateArrivalTimestamp"])

    def _accept(self, data: bytes, arrival: datetime) -> None:
        try:
            partitions = self._partitions(data)
            key_prefix = self._fill(self.settings.prefix, partitions, arrival, error_type=None)
            payload = data + self.settings.delimiter.encode()
            counter = "records"
        except PartitioningError as error:
            key_prefix = self._fill(self.settings.error_prefix, {}, arrival, error_type="processing-failed")
            payload = (json.dumps(_error_record(data, arrival, str(error))) + "\n").encode()
            counter = "errors"
        with self._lock:
            buffer = self._buffers[key_prefix]
            buffer.chunks.append(payload)
            buffer.size += len(payload)
            if buffer.oldest_arrival is None:
                buffer.oldest_arrival = arrival.timestamp()
            full = buffer.size >= self.settings.buffer_bytes
        with self.stats.lock:
            setattr(self.stats, counter, getattr(self.stats, counter) + 1)
        if full:
            self.drain()

    def _partitions(self, data: bytes) -> dict[str, str]:
        return partition_values(self._query, data) if self._query is not None else {}

    def _fill(self, template: str, partitions: dict[str, str], arrival: datetime, *, error_type: str | None) -> str:
        def value(match: re.Match[str]) -> str:
            namespace, name = match.group(1), match.group(2)
            if namespace == "partitionKeyFromQuery":
                return partitions[name]
            if namespace == "timestamp":
                return arrival.astimezone(UTC).strftime(_java_to_strftime(name))
            if namespace == "firehose" and name == "error-output-type" and error_type:
                return error_type
            raise KeyError(f"unsupported prefix expression {match.group(0)}")

        return _PLACEHOLDER.sub(value, template)

    def _flush_on_interval(self) -> None:
        while not self._stop.wait(0.2):
            if time.monotonic() - self._buffer_started >= self.settings.buffer_seconds:
                self.drain()

    def _write(self, key_prefix: str, buffer: _Buffer) -> None:
        body = b"".join(buffer.chunks)
        suffix = ""
        if self.settings.compression == "GZIP":
            body, suffix = gzip.compress(body), ".gz"
        key = f"{key_prefix}local-firehose-{datetime.now(UTC):%Y-%m-%d-%H-%M-%S}-{uuid.uuid4()}{suffix}"
        self._s3.put_object(Bucket=self.settings.bucket, Key=key, Body=body)
        with self.stats.lock:
            self.stats.objects += 1
            self.stats.delivered += len(buffer.chunks)
        if self._metrics is not None:
            now = time.time()
            dimensions = {"DeliveryStreamName": self.settings.delivery_stream_name}
            freshness = now - (buffer.oldest_arrival or now)
            for name, value, unit in (
                ("DeliveryToS3.Records", len(buffer.chunks), "Count"),
                ("DeliveryToS3.Success", 1, None),
                ("DeliveryToS3.DataFreshness", freshness, "Seconds"),
            ):
                self._metrics.add("AWS/Firehose", name, value, dimensions=dimensions, unit=unit, at=now)


def deaggregated(data: bytes) -> list[bytes]:
    """The user records of a KPL aggregate, as Firehose delivers them; a plain record as it is.

    How Firehose treats a corrupt aggregate is not documented: here it stays one record, which the partition
    query cannot read (the magic bytes are not UTF-8), so it lands under the error prefix rather than vanishing.
    """
    try:
        return [user.data for user in unpack(data, partition_key="").records]
    except CorruptAggregateError:
        return [data]


def partition_values(query: Any, data: bytes) -> dict[str, str]:
    """Run a compiled MetadataExtraction query as Firehose does: one object of non-empty strings, or a failure."""
    try:
        outputs = query.input_text(data.decode("utf-8")).all()
    except (ValueError, UnicodeDecodeError) as error:  # jq reports bad JSON and runtime errors as ValueError
        raise PartitioningError(str(error)) from error
    if len(outputs) != 1 or not isinstance(outputs[0], dict):
        raise PartitioningError(f"partition query produced {outputs!r}")
    if not all(isinstance(value, str) and value for value in outputs[0].values()):
        raise PartitioningError(f"partition query produced {outputs[0]!r}")
    return dict(outputs[0])


class PartitioningError(ValueError):
    """The record yields no partition: Firehose sends it to the error output prefix."""


def _error_record(data: bytes, arrival: datetime, message: str) -> dict[str, Any]:
    return {
        "attemptsMade": 1,
        "arrivalTimestamp": int(arrival.timestamp() * 1000),
        "errorCode": "DynamicPartitioning.MetadataExtractionFailed",
        "errorMessage": message,
        "rawData": base64.b64encode(data).decode(),
    }


def _java_to_strftime(pattern: str) -> str:
    for java, python in (("yyyy", "%Y"), ("MM", "%m"), ("dd", "%d"), ("HH", "%H"), ("mm", "%M"), ("ss", "%S")):
        pattern = pattern.replace(java, python)
    return pattern
