"""The local loops' metrics, put into the emulator's CloudWatch as AWS's services and CloudWatch Logs would.

The local event source mapping, the local Firehose and the stream's reader add the AWS metrics that the alarms and
the dashboard read; the function's EMF log lines are added as CloudWatch Logs extracts them. Datapoints wait in a
buffer and are put every half second, and on ``flush``, so that the loops never wait on CloudWatch.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import boto3

from shared.metrics.emf import EmfError, embedded_metrics
from tools.local.watchdog import ComponentFailure, ThreadGroup

FLUSH_SECONDS = 0.5
PUT_LIMIT = 1000  # datapoints per PutMetricData
KINESIS = "AWS/Kinesis"
logger = logging.getLogger(__name__)


class MetricPublisher:
    def __init__(self, cloudwatch: Any = None) -> None:
        self._cloudwatch = cloudwatch or boto3.client("cloudwatch")
        self._pending: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._threads = ThreadGroup("the metrics publisher")
        self._threads.add("its flush loop", self._flush_periodically)
        self.put = 0  # datapoints put so far

    def add(
        self,
        namespace: str,
        name: str,
        value: float,
        *,
        dimensions: Mapping[str, str],
        unit: str | None = None,
        at: float | None = None,
    ) -> None:
        datum: dict[str, Any] = {
            "MetricName": name,
            "Dimensions": [{"Name": key, "Value": dimension} for key, dimension in dimensions.items()],
            "Value": float(value),
            "Timestamp": datetime.fromtimestamp(time.time() if at is None else at, UTC),
        }
        if unit:
            datum["Unit"] = unit
        with self._lock:
            self._pending.setdefault(namespace, []).append(datum)

    def add_log_line(self, line: str) -> None:
        """The metrics of a function's log line in EMF, as CloudWatch Logs extracts them; any other line adds none."""
        try:
            metrics = embedded_metrics(line)
        except EmfError:
            logger.warning("a log line breaks the embedded metric format; CloudWatch would ignore it: %s", line[:200])
            return
        for metric in metrics:
            for value in metric.values:
                self.add(
                    metric.namespace,
                    metric.name,
                    value,
                    dimensions=dict(metric.dimensions),
                    unit=metric.unit,
                    at=metric.timestamp_ms / 1000,
                )

    def start(self) -> None:
        self._threads.start()

    def failures(self) -> list[ComponentFailure]:
        return self._threads.failures()

    def stop(self, *, timeout: float | None = None, flush: bool = True) -> None:
        """Stop the flush loop (waiting ``timeout`` seconds, default 10), then put what waits unless told not to."""
        self._threads.stop(timeout=timeout)
        if flush:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        for namespace, data in pending.items():
            for first in range(0, len(data), PUT_LIMIT):
                self._cloudwatch.put_metric_data(Namespace=namespace, MetricData=data[first : first + PUT_LIMIT])
            self.put += len(data)

    def _flush_periodically(self) -> None:
        while not self._threads.stopping.wait(FLUSH_SECONDS):
            self.flush()


class StreamMetrics:
    """What Kinesis publishes for the stream, from the records the local consumers read."""

    def __init__(self, metrics: MetricPublisher, stream_name: str) -> None:
        self._metrics = metrics
        self._dimensions = {"StreamName": stream_name}

    def read(self, records: Sequence[Mapping[str, Any]], *, at: float) -> None:
        """A GetRecords that returned ``records``: the age of its last record, and no throttled read (the emulator
        refuses none)."""
        age = max(0.0, at - records[-1]["ApproximateArrivalTimestamp"].timestamp()) * 1000
        self._metrics.add(KINESIS, "GetRecords.IteratorAgeMilliseconds", age, dimensions=self._dimensions, at=at)
        self._metrics.add(KINESIS, "ReadProvisionedThroughputExceeded", 0, dimensions=self._dimensions, at=at)

    def incoming(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Records put to the stream, counted at the second they arrived (a consumer that reads every record from
        the start calls this once per record); no put was throttled (the emulator refuses none)."""
        per_second: dict[int, tuple[int, int]] = {}
        for record in records:
            second = int(record["ApproximateArrivalTimestamp"].timestamp())
            count, size = per_second.get(second, (0, 0))
            per_second[second] = (count + 1, size + len(record["Data"]))
        for second, (count, size) in per_second.items():
            for name, value in (
                ("IncomingRecords", count),
                ("IncomingBytes", size),
                ("WriteProvisionedThroughputExceeded", 0),
            ):
                self._metrics.add(KINESIS, name, value, dimensions=self._dimensions, at=second)


def publish_storage(metrics: MetricPublisher, s3: Any, bucket: str) -> None:
    """What S3 publishes once a day of a bucket that holds objects: its size and how many objects it holds."""
    size = count = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for entry in page.get("Contents", []):
            size, count = size + int(entry["Size"]), count + 1
    if count:
        metrics.add(
            "AWS/S3", "BucketSizeBytes", size, dimensions={"BucketName": bucket, "StorageType": "StandardStorage"}
        )
        metrics.add(
            "AWS/S3", "NumberOfObjects", count, dimensions={"BucketName": bucket, "StorageType": "AllStorageTypes"}
        )
