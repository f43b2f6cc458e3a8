"""The local Firehose does what the deployed delivery stream is configured to do: the real partition query,
the delimiter, buffering by size and interval, compression, and error records for what cannot be partitioned."""

from __future__ import annotations

import base64
import gzip
import json
import re
import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Final

import boto3
import jq
import pytest

from services.iot_archive.contract import ERROR_OUTPUT_PREFIX, PARTITION_QUERY, PARTITIONED_PREFIX
from tools.local.deploy import DeployedStack
from tools.local.firehose import DeliverySettings, LocalFirehose, PartitioningError, partition_values
from tools.local.metrics import MetricPublisher
from tools.local.tests.emulated import REGION, RecordingCloudWatch, emulated_account, wait_until

BUCKET: Final = "raw-archive"
ARRIVAL = datetime(2026, 11, 27, 23, 59, 30, tzinfo=UTC)
SETTINGS = DeliverySettings(
    delivery_stream_name="raw-archive",
    stream_name="readings",
    bucket=BUCKET,
    prefix=PARTITIONED_PREFIX,
    error_prefix=ERROR_OUTPUT_PREFIX,
    compression="GZIP",
    buffer_seconds=3600,
    buffer_bytes=5 * 1024 * 1024,
    partition_query=PARTITION_QUERY,
    delimiter="\n",
)


@pytest.fixture(scope="module")
def moto() -> Iterator[Any]:
    """One emulated account for the module (starting moto per test would double this file's time)."""
    with emulated_account():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        yield s3


@pytest.fixture
def s3(moto: Any) -> Any:
    """The S3 client, with an empty archive bucket."""
    for entry in moto.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        moto.delete_object(Bucket=BUCKET, Key=entry["Key"])
    return moto


def archived(s3: Any) -> dict[str, bytes]:
    keys = [entry["Key"] for entry in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    return {key: s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() for key in keys}


def archived_records(s3: Any) -> int:
    return sum(gzip.decompress(body).count(b"\n") for body in archived(s3).values())


def reading(timestamp: str | int) -> bytes:
    return json.dumps({"sensor_id": "s-1", "value": 1, "timestamp": timestamp}).encode()


def accept(firehose: LocalFirehose, *data: bytes) -> None:
    firehose._accept_all([{"Data": item, "ApproximateArrivalTimestamp": ARRIVAL} for item in data])


# --- the partition query, as Firehose runs it ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("timestamp", "partitions"),
    [
        ("2026-11-27T15:20:00+01:00", {"year": "2026", "month": "11", "day": "27", "hour": "14"}),
        ("2026-12-31T23:30:00.250Z", {"year": "2026", "month": "12", "day": "31", "hour": "23"}),
        (1_795_000_000_000, {"year": "2026", "month": "11", "day": "18", "hour": "11"}),
    ],
)
def test_readings_are_partitioned_by_their_own_utc_event_time(timestamp: str | int, partitions: dict[str, str]) -> None:
    assert partition_values(jq.compile(PARTITION_QUERY), reading(timestamp)) == partitions


@pytest.mark.parametrize(
    ("query", "data"),
    [
        (PARTITION_QUERY, b"{not json"),
        (PARTITION_QUERY, b"\xff\xfe"),
        (PARTITION_QUERY, reading("yesterday")),
        (".timestamp", reading("2026-11-27T12:00:00Z")),  # not an object
        ("{a: .x}", b'{"x": ""}'),  # an empty partition value
        ("{a: .x}", b'{"x": 5}'),  # not a string
        (".[]", b'[{"a": "1"}, {"a": "2"}]'),  # more than one result
        ("empty", b"{}"),  # no result
    ],
)
def test_a_record_without_exactly_one_object_of_strings_has_no_partition(query: str, data: bytes) -> None:
    with pytest.raises(PartitioningError) as error:
        partition_values(jq.compile(query), data)
    assert str(error.value) not in ("", "None")


def test_the_error_names_what_the_query_produced() -> None:
    with pytest.raises(PartitioningError, match=re.escape("partition query produced [{'a': '1'}, {'a': '2'}]")):
        partition_values(jq.compile(".[]"), b'[{"a": "1"}, {"a": "2"}]')
    with pytest.raises(PartitioningError, match=re.escape("partition query produced {'a': ''}")):
        partition_values(jq.compile("{a: .x}"), b'{"x": ""}')


# --- buffering and writing -------------------------------------------------------------------------------------------


def test_records_are_delimited_compressed_and_written_under_their_partition(s3: Any) -> None:
    firehose = LocalFirehose(SETTINGS)
    accept(
        firehose, reading("2026-11-27T15:20:00+01:00"), reading("2026-11-27T14:59:59Z"), reading("2026-11-27T15:00:00Z")
    )
    assert archived(s3) == {}  # buffered
    firehose.drain()
    objects = archived(s3)
    assert sorted(key.rsplit("/", 1)[0] for key in objects) == [
        "readings/year=2026/month=11/day=27/hour=14",
        "readings/year=2026/month=11/day=27/hour=15",
    ]
    hour_14 = next(body for key, body in objects.items() if "hour=14" in key)
    assert (
        gzip.decompress(hour_14)
        == reading("2026-11-27T15:20:00+01:00") + b"\n" + reading("2026-11-27T14:59:59Z") + b"\n"
    )
    assert all(key.rsplit("/", 1)[1].startswith("local-firehose-2") and key.endswith(".gz") for key in objects)
    assert (firehose.stats.records, firehose.stats.errors, firehose.stats.objects) == (3, 0, 2)
    firehose.drain()
    assert len(archived(s3)) == 2  # an empty buffer writes nothing
    accept(firehose, reading("2026-11-27T15:20:00+01:00"))  # buffering goes on after a drain
    firehose.drain()
    assert len(archived(s3)) == 3


def test_each_delivery_publishes_firehoses_metrics_and_every_record_read_kinesiss(s3: Any) -> None:
    cloudwatch = RecordingCloudWatch()
    metrics = MetricPublisher(cloudwatch)
    firehose = LocalFirehose(SETTINGS, metrics=metrics)
    accept(firehose, reading("2026-11-27T15:20:00+01:00"), reading("2026-11-27T15:21:00+01:00"))
    firehose.drain()
    metrics.flush()
    found = {name: (dimensions, value) for _, name, dimensions, value, _, _ in cloudwatch.data()}
    delivery = {"DeliveryStreamName": "raw-archive"}
    assert found["DeliveryToS3.Records"] == (delivery, 2)
    assert found["DeliveryToS3.Success"] == (delivery, 1)
    freshness = found["DeliveryToS3.DataFreshness"][1]
    assert found["DeliveryToS3.DataFreshness"][0] == delivery
    assert freshness == pytest.approx(datetime.now(UTC).timestamp() - ARRIVAL.timestamp(), abs=5)  # the oldest's age
    assert found["IncomingRecords"] == ({"StreamName": "readings"}, 2)
    assert found["IncomingBytes"][1] == 2 * len(reading("2026-11-27T15:20:00+01:00"))


def test_a_record_without_partition_is_archived_as_an_error_record(s3: Any, local_time_zone: str) -> None:
    with pytest.raises(PartitioningError) as expected:
        partition_values(jq.compile(PARTITION_QUERY), b"\x00not a reading")
    firehose = LocalFirehose(SETTINGS)
    accept(firehose, b"\x00not a reading")
    firehose.drain()
    ((key, body),) = archived(s3).items()
    assert key.startswith("errors/processing-failed/2026/11/27/local-firehose-")
    (line,) = gzip.decompress(body).decode().splitlines()
    document = json.loads(line)
    assert document["rawData"] == base64.b64encode(b"\x00not a reading").decode()
    assert document["arrivalTimestamp"] == int(ARRIVAL.timestamp() * 1000)
    assert (document["attemptsMade"], document["errorCode"]) == (1, "DynamicPartitioning.MetadataExtractionFailed")
    assert document["errorMessage"] == str(expected.value)
    assert document["errorMessage"] not in ("", "None")
    assert (firehose.stats.records, firehose.stats.errors) == (0, 1)


def test_a_full_buffer_is_written_at_once(s3: Any) -> None:
    record = reading("2026-11-27T12:00:00Z")
    firehose = LocalFirehose(replace(SETTINGS, buffer_bytes=2 * (len(record) + 1)))
    accept(firehose, record)
    assert archived(s3) == {}  # one byte short of the buffer size
    accept(firehose, record)
    assert len(archived(s3)) == 1  # exactly the buffer size
    assert firehose.stats.objects == 1


def test_without_compression_or_query_records_are_written_as_they_came(s3: Any, local_time_zone: str) -> None:
    settings = replace(
        SETTINGS,
        prefix="raw/!{timestamp:yyyy-MM-dd-HH-mm-ss}/",
        compression="UNCOMPRESSED",
        partition_query=None,
        delimiter="",
    )
    firehose = LocalFirehose(settings)
    accept(firehose, b"a", b"b")
    firehose.drain()
    ((key, body),) = archived(s3).items()
    written = re.fullmatch(r"raw/2026-11-27-23-59-30/local-firehose-([0-9-]{19})-[0-9a-f-]{36}", key)  # UTC
    assert written, key
    assert abs(datetime.strptime(written[1], "%Y-%m-%d-%H-%M-%S").replace(tzinfo=UTC) - datetime.now(UTC)).seconds < 60
    assert body == b"ab"


@pytest.mark.parametrize("expression", ["!{firehose:error-output-type}", "!{firehose:random-string}", "!{other:y}"])
def test_a_prefix_expression_firehose_would_not_fill_here_is_refused(s3: Any, expression: str) -> None:
    firehose = LocalFirehose(replace(SETTINGS, prefix=f"x/{expression}/", partition_query=None))
    with pytest.raises(KeyError, match=re.escape(f"unsupported prefix expression {expression}")):
        accept(firehose, b"a")


# --- the running loop --------------------------------------------------------------------------------------------


def stream_with(*data: bytes) -> str:
    kinesis = boto3.client("kinesis")
    name = f"readings-{uuid.uuid4().hex[:8]}"
    kinesis.create_stream(StreamName=name, ShardCount=2)
    for index, item in enumerate(data):
        kinesis.put_record(StreamName=name, Data=item, PartitionKey=f"pk-{index}")
    return name


def test_the_buffer_interval_writes_what_is_buffered_and_stop_writes_the_rest(s3: Any) -> None:
    record = reading("2026-11-27T12:00:00Z")
    stream = stream_with(record, record, record)
    interval = LocalFirehose(replace(SETTINGS, stream_name=stream, buffer_seconds=0))
    before = set(threading.enumerate())
    interval.start()
    try:
        started = set(threading.enumerate()) - before
        assert len(started) == 2 + 1  # a reader per shard and the interval's flusher
        assert all(thread.daemon for thread in started)  # a run that stops early never waits for them
        wait_until(lambda: interval.stats.objects >= 1 and interval.stats.records == 3)
        late = boto3.client("kinesis").put_record(StreamName=stream, Data=record, PartitionKey="late")
        wait_until(lambda: archived_records(s3) == 4)  # the interval goes on after a flush
        position = int(late["SequenceNumber"])
        wait_until(lambda: interval.caught_up({late["ShardId"]: position}))
        assert not interval.caught_up({late["ShardId"]: position + 1})  # not read yet: a record still to come
    finally:
        interval.stop()
    assert archived_records(s3) == 4

    held = LocalFirehose(replace(SETTINGS, stream_name=stream_with(record, record, record)))  # a one-hour interval
    held.start()
    try:
        wait_until(lambda: held.stats.records == 3)
        threading.Event().wait(1.0)  # five turns of the interval's loop
        assert held.stats.objects == 0
    finally:
        held.stop()
    assert held.stats.objects == 1


# --- configuration from the deployed template -----------------------------------------------------------------------


def deployed(stream_arn: Any, destination: dict[str, Any]) -> DeployedStack:
    return DeployedStack(
        name="iot-sandbox-archive",
        template={
            "Parameters": {
                "StreamArnParameter": {"Type": "AWS::SSM::Parameter::Value<String>", "Default": "/iot/stream-arn"}
            },
            "Resources": {
                "Delivery": {
                    "Type": "AWS::KinesisFirehose::DeliveryStream",
                    "Properties": {
                        "KinesisStreamSourceConfiguration": {"KinesisStreamARN": stream_arn},
                        "ExtendedS3DestinationConfiguration": {
                            "BucketARN": {"Fn::GetAtt": ["Raw", "Arn"]},
                            **destination,
                        },
                    },
                },
            },
        },
        outputs={"DeliveryStreamName": "raw-archive"},
        physical_ids={"Raw": BUCKET},
    )


def test_settings_are_read_from_the_delivery_stream_in_the_template(s3: Any) -> None:
    boto3.client("ssm").put_parameter(
        Name="/iot/stream-arn",
        Value=f"arn:aws:kinesis:{REGION}:123456789012:stream/iot-readings",
        Type="String",
        Overwrite=True,
    )
    destination = {
        "Prefix": PARTITIONED_PREFIX,
        "ErrorOutputPrefix": ERROR_OUTPUT_PREFIX,
        "CompressionFormat": "GZIP",
        "BufferingHints": {"IntervalInSeconds": 60, "SizeInMBs": 64},
        "ProcessingConfiguration": {
            "Enabled": True,
            "Processors": [
                {"Type": "RecordDeAggregation"},  # no parameters at all
                {
                    "Type": "MetadataExtraction",
                    "Parameters": [{"ParameterName": "MetadataExtractionQuery", "ParameterValue": PARTITION_QUERY}],
                },
                {
                    "Type": "AppendDelimiterToRecord",
                    "Parameters": [{"ParameterName": "Delimiter", "ParameterValue": "\\n"}],
                },
            ],
        },
    }
    assert DeliverySettings.from_stack(deployed({"Ref": "StreamArnParameter"}, destination)) == replace(
        SETTINGS, stream_name="iot-readings", buffer_seconds=60, buffer_bytes=64 * 1024 * 1024
    )


def test_absent_delivery_properties_take_firehoses_defaults(s3: Any) -> None:
    stack = deployed(f"arn:aws:kinesis:{REGION}:123456789012:stream/Refreshed", {})  # a plain ARN, not a Ref
    assert DeliverySettings.from_stack(stack) == DeliverySettings(
        delivery_stream_name="raw-archive",
        stream_name="Refreshed",
        bucket=BUCKET,
        prefix="",
        error_prefix="",
        compression="UNCOMPRESSED",
        buffer_seconds=300,
        buffer_bytes=5 * 1024 * 1024,
        partition_query=None,
        delimiter="",
    )
