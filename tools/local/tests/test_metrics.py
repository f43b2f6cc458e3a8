"""The local loops' metrics: buffered, put in chunks, EMF lines read as CloudWatch Logs reads them, the stream's
and the buckets' metrics as Kinesis and S3 publish them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from tools.local.metrics import PUT_LIMIT, MetricPublisher, StreamMetrics, publish_storage
from tools.local.tests.emulated import REGION, RecordingCloudWatch, emulated_account


@pytest.fixture
def cloudwatch() -> RecordingCloudWatch:
    return RecordingCloudWatch()


def test_datapoints_wait_until_a_flush_and_go_in_chunks_per_namespace(cloudwatch: RecordingCloudWatch) -> None:
    metrics = MetricPublisher(cloudwatch)
    for index in range(PUT_LIMIT + 1):
        metrics.add("AWS/Lambda", "Invocations", 1, dimensions={"FunctionName": "fn"}, at=1000 + index)
    metrics.add("AWS/Kinesis", "IncomingRecords", 5, dimensions={"StreamName": "s"}, unit="Count", at=7)
    assert cloudwatch.requests == []
    metrics.flush()
    assert [(r["Namespace"], len(r["MetricData"])) for r in cloudwatch.requests] == [
        ("AWS/Lambda", PUT_LIMIT),
        ("AWS/Lambda", 1),
        ("AWS/Kinesis", 1),
    ]
    assert cloudwatch.data()[-1] == ("AWS/Kinesis", "IncomingRecords", {"StreamName": "s"}, 5.0, "Count", 7.0)
    assert metrics.put == PUT_LIMIT + 2
    metrics.flush()
    assert len(cloudwatch.requests) == 3  # nothing left to put


def test_stopping_puts_what_is_left(cloudwatch: RecordingCloudWatch) -> None:
    metrics = MetricPublisher(cloudwatch)
    metrics.start()
    metrics.add("N", "M", 1, dimensions={})
    metrics.stop()
    assert [datum[:4] for datum in cloudwatch.data()] == [("N", "M", {}, 1.0)]


def test_an_emf_log_line_adds_each_value_of_each_metric_under_each_dimension_set(
    cloudwatch: RecordingCloudWatch,
) -> None:
    metrics = MetricPublisher(cloudwatch)
    line = json.dumps(
        {
            "_aws": {
                "Timestamp": 1_700_000_000_500,
                "CloudWatchMetrics": [
                    {
                        "Namespace": "IotPlatform",
                        "Dimensions": [["service"]],
                        "Metrics": [{"Name": "A", "Unit": "Count"}],
                    }
                ],
            },
            "service": "processor",
            "A": [1, 2],
        }
    )
    metrics.add_log_line(line)
    metrics.add_log_line('{"level": "INFO", "message": "batch settled"}')
    metrics.flush()
    assert cloudwatch.data() == [
        ("IotPlatform", "A", {"service": "processor"}, 1.0, "Count", 1_700_000_000.5),
        ("IotPlatform", "A", {"service": "processor"}, 2.0, "Count", 1_700_000_000.5),
    ]


def test_a_broken_emf_line_adds_nothing_and_says_so(
    cloudwatch: RecordingCloudWatch, caplog: pytest.LogCaptureFixture
) -> None:
    metrics = MetricPublisher(cloudwatch)
    metrics.add_log_line('{"_aws": {"CloudWatchMetrics": []}}')
    metrics.flush()
    assert cloudwatch.requests == []
    assert "breaks the embedded metric format" in caplog.text


def record(second: float, size: int) -> dict[str, Any]:
    return {"ApproximateArrivalTimestamp": datetime.fromtimestamp(second, UTC), "Data": b"x" * size}


def test_the_stream_metrics_count_records_per_arrival_second_and_the_age_of_a_read(
    cloudwatch: RecordingCloudWatch,
) -> None:
    metrics = MetricPublisher(cloudwatch)
    stream = StreamMetrics(metrics, "readings")
    records = [record(100.2, 10), record(100.9, 5), record(101.5, 7)]
    stream.incoming(records)
    stream.read(records, at=104.0)
    metrics.flush()
    found = {(name, at): value for _, name, dimensions, value, _, at in cloudwatch.data()}
    assert found == {
        ("IncomingRecords", 100): 2,
        ("IncomingBytes", 100): 15,
        ("WriteProvisionedThroughputExceeded", 100): 0,
        ("IncomingRecords", 101): 1,
        ("IncomingBytes", 101): 7,
        ("WriteProvisionedThroughputExceeded", 101): 0,
        ("GetRecords.IteratorAgeMilliseconds", 104): pytest.approx(2500),  # the last record's age
        ("ReadProvisionedThroughputExceeded", 104): 0,
    }
    assert {dimensions["StreamName"] for _, _, dimensions, *_ in cloudwatch.data()} == {"readings"}


@pytest.fixture
def s3() -> Iterator[Any]:
    with emulated_account():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(Bucket="full", CreateBucketConfiguration={"LocationConstraint": REGION})
        client.create_bucket(Bucket="empty", CreateBucketConfiguration={"LocationConstraint": REGION})
        client.put_object(Bucket="full", Key="a", Body=b"12345")
        client.put_object(Bucket="full", Key="b", Body=b"123")
        yield client


def test_storage_is_published_for_a_bucket_that_holds_objects_only(s3: Any, cloudwatch: RecordingCloudWatch) -> None:
    metrics = MetricPublisher(cloudwatch)
    publish_storage(metrics, s3, "empty")
    publish_storage(metrics, s3, "full")
    metrics.flush()
    assert [datum[:4] for datum in cloudwatch.data()] == [
        ("AWS/S3", "BucketSizeBytes", {"BucketName": "full", "StorageType": "StandardStorage"}, 8.0),
        ("AWS/S3", "NumberOfObjects", {"BucketName": "full", "StorageType": "AllStorageTypes"}, 2.0),
    ]
