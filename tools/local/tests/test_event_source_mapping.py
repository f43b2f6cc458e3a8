"""The local event source mapping settles batches as Lambda does: partial failures, bisection, bounded retries,
record age, the on-failure destination, batching windows and lanes. A scripted function stands in for the
processor; the stream and the failure bucket are moto's."""

from __future__ import annotations

import base64
import json
import threading
import uuid
import zlib
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final, cast

import boto3
import pytest

from tools.local import event_source_mapping
from tools.local.deploy import DeployedStack
from tools.local.event_source_mapping import LocalEventSourceMapping, MappingSettings
from tools.local.function import InvocationResult, LocalFunction, TableWrites
from tools.local.metrics import MetricPublisher
from tools.local.tests.emulated import REGION, WAIT_SECONDS, RecordingCloudWatch, emulated_account, wait_until

STREAM, FAILURES, SHARD = "readings", "failed-batches", "shardId-000000000000"
STREAM_ARN: Final = f"arn:aws:kinesis:{REGION}:123456789012:stream/{STREAM}"
ARRIVAL = datetime(2026, 11, 27, 12, tzinfo=UTC)
SETTINGS = MappingSettings(
    mapping_id="local-mapping",
    function_logical_id="Processor",
    function_name="processor",
    alias_name="live",
    stream_name=STREAM,
    stream_arn=STREAM_ARN,
    batch_size=100,
    batching_window_seconds=0,
    parallelization_factor=1,
    report_batch_item_failures=True,
    bisect_on_error=True,
    max_retry_attempts=2,
    max_record_age_seconds=3600,
    starting_position="TRIM_HORIZON",
    on_failure_bucket=FAILURES,
)


@pytest.fixture(scope="module")
def moto() -> Iterator[Any]:
    """One emulated account for the module (starting moto per test would double this file's time)."""
    with emulated_account():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=FAILURES, CreateBucketConfiguration={"LocationConstraint": REGION})
        boto3.client("kinesis").create_stream(StreamName=STREAM, ShardCount=1)
        yield s3


@pytest.fixture
def aws(moto: Any) -> Any:
    """The S3 client, with an empty failure bucket."""
    for entry in moto.list_objects_v2(Bucket=FAILURES).get("Contents", []):
        moto.delete_object(Bucket=FAILURES, Key=entry["Key"])
    return moto


class ScriptedFunction:
    """Answers each invocation with ``answer(sequence numbers of the batch)``; records every batch it was given."""

    version = "7"  # the version the alias resolved to
    table_name = "readings-table"

    def __init__(self, answer: Callable[[list[str]], InvocationResult] | None = None) -> None:
        self._answer = answer or (lambda _: ok())
        self.batches: list[list[str]] = []
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def invoke(self, event: dict[str, Any]) -> InvocationResult:
        sequence_numbers = [record["kinesis"]["sequenceNumber"] for record in event["Records"]]
        with self._lock:
            self.batches.append(sequence_numbers)
            self.events.append(event)
        return self._answer(sequence_numbers)


def ok(*failed: str) -> InvocationResult:
    return InvocationResult(response={"batchItemFailures": [{"itemIdentifier": s} for s in failed]}, error=None)


def crash() -> InvocationResult:
    return InvocationResult(response=None, error="Unhandled: RuntimeError")


def records(count: int, *, first: int = 1, arrival: datetime = ARRIVAL) -> list[dict[str, Any]]:
    return [
        {
            "SequenceNumber": str(first + index),
            "PartitionKey": f"pk-{first + index}",
            "Data": f"record {first + index}".encode(),
            "ApproximateArrivalTimestamp": arrival + timedelta(milliseconds=index),
        }
        for index in range(count)
    ]


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now.timestamp()
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        return self.now


def mapping(
    function: ScriptedFunction, clock: Clock | None = None, metrics: MetricPublisher | None = None, **settings: Any
) -> LocalEventSourceMapping:
    clock = clock or Clock(ARRIVAL + timedelta(seconds=1))
    return LocalEventSourceMapping(
        replace(SETTINGS, **settings), cast(LocalFunction, function), clock=clock, metrics=metrics
    )


def failure_documents(s3: Any) -> list[dict[str, Any]]:
    keys = [entry["Key"] for entry in s3.list_objects_v2(Bucket=FAILURES).get("Contents", [])]
    return [json.loads(s3.get_object(Bucket=FAILURES, Key=key)["Body"].read()) for key in keys]


def test_a_batch_that_succeeds_is_invoked_once_in_lambdas_event_shape(aws: Any) -> None:
    function = ScriptedFunction()
    local = mapping(function)
    local._settle(SHARD, records(3), attempt=0)
    assert function.batches == [["1", "2", "3"]]
    first = function.events[0]["Records"][0]
    assert first["eventID"] == f"{SHARD}:1"
    assert first["eventSourceARN"] == STREAM_ARN
    assert first["kinesis"]["partitionKey"] == "pk-1"
    assert base64.b64decode(first["kinesis"]["data"]) == b"record 1"
    assert first["kinesis"]["approximateArrivalTimestamp"] == ARRIVAL.timestamp()
    settled_at = (ARRIVAL + timedelta(seconds=1)).timestamp()  # the mapping's clock
    assert local.stats.completed_at == dict.fromkeys(["1", "2", "3"], settled_at)
    assert (local.stats.invocations, local.stats.partial_failures, local.stats.function_errors) == (1, 0, 0)


def test_partial_failures_retry_from_the_lowest_failed_record(aws: Any) -> None:
    answers = iter([ok("5", "3"), ok()])
    function = ScriptedFunction(lambda _: next(answers))
    local = mapping(function)
    local._settle(SHARD, records(6), attempt=0)
    assert function.batches == [["1", "2", "3", "4", "5", "6"], ["3", "4", "5", "6"]]
    assert local.stats.partial_failures == 1
    assert set(local.stats.completed_at) == {str(i) for i in range(1, 7)}
    assert failure_documents(aws) == []


@pytest.mark.parametrize(
    "response",
    [{"batchItemFailures": [{"itemIdentifier": "999"}]}, {"statusCode": 200}, None],
    ids=["unknown record", "no failure list", "no response"],
)
def test_a_response_that_names_no_record_of_the_batch_is_a_success(aws: Any, response: Any) -> None:
    function = ScriptedFunction(lambda _: InvocationResult(response=response, error=None))
    local = mapping(function)
    local._settle(SHARD, records(2), attempt=0)
    assert function.batches == [["1", "2"]]
    assert set(local.stats.completed_at) == {"1", "2"}


def test_without_report_batch_item_failures_a_response_is_a_success(aws: Any) -> None:
    function = ScriptedFunction(lambda _: ok("1"))
    local = mapping(function, report_batch_item_failures=False)
    local._settle(SHARD, records(2), attempt=0)
    assert function.batches == [["1", "2"]]
    assert local.stats.partial_failures == 0


@pytest.mark.parametrize("retries", [0, 1, 2, 5])
def test_a_record_that_keeps_failing_is_retried_exactly_the_configured_times(aws: Any, retries: int) -> None:
    function = ScriptedFunction(lambda batch: ok("2") if "2" in batch else ok())
    local = mapping(function, max_retry_attempts=retries)
    local._settle(SHARD, records(3), attempt=0)
    assert function.batches == [["1", "2", "3"]] + [["2", "3"]] * retries
    (document,) = failure_documents(aws)
    assert document["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert document["requestContext"]["approximateInvokeCount"] == retries + 1
    assert document["requestContext"]["functionArn"] == "processor"
    info = document["KinesisBatchInfo"]
    assert (info["shardId"], info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (
        SHARD,
        "2",
        "3",
        2,
    )
    assert info["streamArn"] == STREAM_ARN
    assert info["approximateArrivalOfFirstRecord"] == (ARRIVAL + timedelta(milliseconds=1)).isoformat()
    assert info["approximateArrivalOfLastRecord"] == (ARRIVAL + timedelta(milliseconds=2)).isoformat()
    payload = json.loads(document["payload"])
    assert [base64.b64decode(r["kinesis"]["data"]) for r in payload["Records"]] == [b"record 2", b"record 3"]
    assert [r["eventID"] for r in payload["Records"]] == [f"{SHARD}:2", f"{SHARD}:3"]
    assert document["version"] == "1.0"
    assert document["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    assert uuid.UUID(document["requestContext"]["requestId"])
    written = datetime.fromisoformat(document["timestamp"])
    assert abs(datetime.now(UTC) - written) < timedelta(minutes=1)  # an aware UTC time: naive would raise here
    (key,) = [entry["Key"] for entry in aws.list_objects_v2(Bucket=FAILURES)["Contents"]]
    assert key.startswith(f"aws/lambda/processor/{written:%Y/%m/%d/%H}/{SHARD}-2-")
    assert local.stats.batches_to_failure_destination == 1
    assert set(local.stats.completed_at) == {"1", "2", "3"}  # the destination settles them


def test_a_function_error_bisects_the_batch_until_the_poison_record_is_alone(aws: Any) -> None:
    function = ScriptedFunction(lambda batch: crash() if "3" in batch else ok())
    local = mapping(function, max_retry_attempts=1)
    local._settle(SHARD, records(4), attempt=0)
    assert function.batches == [["1", "2", "3", "4"], ["1", "2"], ["3", "4"], ["3"], ["3"], ["4"]]
    assert {record["eventID"].split(":")[0] for event in function.events for record in event["Records"]} == {SHARD}
    assert (local.stats.function_errors, local.stats.bisections) == (4, 2)
    (document,) = failure_documents(aws)
    assert document["KinesisBatchInfo"]["startSequenceNumber"] == "3"
    assert document["KinesisBatchInfo"]["batchSize"] == 1
    assert document["requestContext"]["approximateInvokeCount"] == 2


def test_without_bisection_a_function_error_retries_the_whole_batch(aws: Any) -> None:
    function = ScriptedFunction(lambda batch: crash() if "3" in batch else ok())
    local = mapping(function, bisect_on_error=False, max_retry_attempts=1)
    local._settle(SHARD, records(4), attempt=0)
    assert function.batches == [["1", "2", "3", "4"]] * 2
    (document,) = failure_documents(aws)
    assert document["KinesisBatchInfo"]["batchSize"] == 4
    assert local.stats.bisections == 0


def test_records_older_than_the_maximum_age_go_to_the_destination_without_an_invocation(aws: Any) -> None:
    function = ScriptedFunction()
    at_limit = Clock(ARRIVAL + timedelta(seconds=60))
    mapping(function, at_limit, max_record_age_seconds=60)._settle(SHARD, records(1), attempt=0)
    assert function.batches == [["1"]]  # exactly at the limit: still delivered
    past_limit = Clock(ARRIVAL + timedelta(seconds=60, milliseconds=1))
    mapping(function, past_limit, max_record_age_seconds=60)._settle(SHARD, records(1, first=2), attempt=0)
    assert function.batches == [["1"]]
    (document,) = failure_documents(aws)
    assert document["requestContext"]["condition"] == "RecordAgeExceeded"
    assert document["requestContext"]["approximateInvokeCount"] == 0
    assert document["KinesisBatchInfo"]["shardId"] == SHARD


def test_unbounded_retries_end_when_the_records_grow_too_old(aws: Any) -> None:
    clock = Clock(ARRIVAL)

    def fail_and_age(_: list[str]) -> InvocationResult:
        clock.now += 10
        return ok("1")

    function = ScriptedFunction(fail_and_age)
    mapping(function, clock, max_retry_attempts=-1, max_record_age_seconds=30)._settle(SHARD, records(1), attempt=0)
    assert len(function.batches) == 4  # at 0, 10, 20 and 30 s: at the limit a record is still young enough
    assert [d["requestContext"]["condition"] for d in failure_documents(aws)] == ["RecordAgeExceeded"]


def test_an_age_limit_of_minus_one_never_expires_records(aws: Any) -> None:
    function = ScriptedFunction()
    ancient = Clock(ARRIVAL + timedelta(days=365))
    mapping(function, ancient, max_record_age_seconds=-1)._settle(SHARD, records(1), attempt=0)
    assert function.batches == [["1"]]


def test_without_a_destination_exhausted_records_are_settled_and_counted(aws: Any) -> None:
    function = ScriptedFunction(lambda _: crash())
    local = mapping(function, on_failure_bucket=None, max_retry_attempts=0, bisect_on_error=False)
    local._settle(SHARD, records(2), attempt=0)
    assert local.stats.batches_to_failure_destination == 1
    assert local.stats.dropped == 2
    assert set(local.stats.completed_at) == {"1", "2"}
    assert failure_documents(aws) == []


# --- what the mapping publishes ------------------------------------------------------------------------------------

FUNCTION_DIMENSIONS = (
    {"FunctionName": "processor"},
    {"FunctionName": "processor", "Resource": "processor:live"},
    {"FunctionName": "processor", "Resource": "processor:live", "ExecutedVersion": "7"},
)


DYNAMODB_METRICS = ("ConsumedWriteCapacityUnits", "WriteThrottleEvents", "SystemErrors")


def published(cloudwatch: RecordingCloudWatch, name: str) -> list[tuple[dict[str, str], float]]:
    return [(dimensions, value) for _, metric, dimensions, value, _, _ in cloudwatch.data() if metric == name]


def test_an_invocation_publishes_lambdas_metrics_under_the_function_its_alias_and_version(aws: Any) -> None:
    cloudwatch = RecordingCloudWatch()
    metrics = MetricPublisher(cloudwatch)
    written = InvocationResult(
        response={"batchItemFailures": []},
        error=None,
        table=TableWrites(written={1000: 1, 1001: 2}, throttled={1000: 2}, server_errors={1001: 1}),
    )
    local = mapping(ScriptedFunction(lambda _: written), metrics=metrics)
    local._settle(SHARD, records(3), attempt=0)
    metrics.flush()
    for name, value in (("Invocations", 1), ("Errors", 0), ("ConcurrentExecutions", 1)):
        assert published(cloudwatch, name) == [(dimensions, value) for dimensions in FUNCTION_DIMENSIONS], name
    (age,) = {value for _, value in published(cloudwatch, "IteratorAge")}
    assert age == pytest.approx(1000 - 2)  # read a second after the first arrived; the last arrived 2 ms later
    assert len(published(cloudwatch, "Duration")) == 3
    assert published(cloudwatch, "InvokedEventCount") == [({"EventSourceMappingUUID": "local-mapping"}, 3)]
    table = {"TableName": "readings-table"}
    assert published(cloudwatch, "ConsumedWriteCapacityUnits") == [(table, 1), (table, 2)]
    assert published(cloudwatch, "WriteThrottleEvents") == [(table, 2)]
    assert published(cloudwatch, "SystemErrors") == [({**table, "Operation": "BatchWriteItem"}, 1)]
    at = {(metric, moment) for _, metric, _, _, _, moment in cloudwatch.data() if metric in DYNAMODB_METRICS}
    assert at == {  # each in the second it happened in, not when the invocation ended
        ("ConsumedWriteCapacityUnits", 1000.0),
        ("ConsumedWriteCapacityUnits", 1001.0),
        ("WriteThrottleEvents", 1000.0),
        ("SystemErrors", 1001.0),
    }


def test_a_function_error_counts_as_an_error_and_writes_without_throttles_publish_none(aws: Any) -> None:
    cloudwatch = RecordingCloudWatch()
    metrics = MetricPublisher(cloudwatch)
    local = mapping(ScriptedFunction(lambda _: crash()), metrics=metrics, max_retry_attempts=0, bisect_on_error=False)
    local._settle(SHARD, records(1), attempt=0)
    metrics.flush()
    assert {value for _, value in published(cloudwatch, "Errors")} == {1}
    assert published(cloudwatch, "WriteThrottleEvents") == published(cloudwatch, "SystemErrors") == []
    assert published(cloudwatch, "OnFailureDestinationDeliveredEventCount") == [
        ({"EventSourceMappingUUID": "local-mapping"}, 1)
    ]
    assert published(cloudwatch, "DroppedEventCount") == []


def test_a_throttled_invocation_is_counted_and_tried_again_without_using_a_retry(
    aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(event_source_mapping, "THROTTLED_RETRY_SECONDS", 0)
    answers = [InvocationResult(response=None, error=None, throttled=True)] * 3 + [ok()]
    function = ScriptedFunction(lambda _: answers.pop(0))
    cloudwatch = RecordingCloudWatch()
    metrics = MetricPublisher(cloudwatch)
    local = mapping(function, metrics=metrics, max_retry_attempts=0)
    local._settle(SHARD, records(2), attempt=0)
    metrics.flush()
    assert len(function.batches) == 4
    assert (local.stats.throttles, local.stats.invocations, local.stats.batches_to_failure_destination) == (3, 1, 0)
    assert published(cloudwatch, "Throttles") == [(d, 1) for _ in range(3) for d in FUNCTION_DIMENSIONS]
    assert set(local.stats.completed_at) == {"1", "2"}


def test_records_no_destination_keeps_are_dropped_and_published_as_dropped(aws: Any) -> None:
    cloudwatch = RecordingCloudWatch()
    metrics = MetricPublisher(cloudwatch)
    local = mapping(ScriptedFunction(lambda _: crash()), metrics=metrics, max_retry_attempts=0, bisect_on_error=False,
                    on_failure_bucket="no-such-bucket")  # fmt: skip
    local._settle(SHARD, records(2), attempt=0)
    metrics.flush()
    assert published(cloudwatch, "DroppedEventCount") == [({"EventSourceMappingUUID": "local-mapping"}, 2)]
    assert local.stats.dropped == 2
    assert set(local.stats.completed_at) == {"1", "2"}


# --- reading the stream: lanes and batching windows ----------------------------------------------------------------


def new_stream(*keys: str, shards: int = 1) -> str:
    """A stream of its own for one test, holding a record per key (data "<key>-<index>")."""
    kinesis = boto3.client("kinesis")
    name = f"readings-{uuid.uuid4().hex[:8]}"
    kinesis.create_stream(StreamName=name, ShardCount=shards)
    for index, key in enumerate(keys):
        kinesis.put_record(StreamName=name, Data=f"{key}-{index}".encode(), PartitionKey=key)
    return name


def test_full_batches_go_at_once_and_the_rest_when_the_window_ends(aws: Any) -> None:
    stream = new_stream(*["k"] * 6)
    clock = Clock(datetime.now(UTC))

    def answer(batch: list[str]) -> InvocationResult:
        clock.reads = 0  # counted from the latest batch on: see below
        return ok()

    function = ScriptedFunction(answer)
    local = mapping(function, clock, stream_name=stream, batch_size=3, batching_window_seconds=60)
    local.start()
    try:
        wait_until(lambda: len(function.batches) == 2)  # two full batches, with the clock standing still
        boto3.client("kinesis").put_record(StreamName=stream, Data=b"k-6", PartitionKey="k")
        # Settling the second batch reads the clock once; the new record is stamped with it when it is read (its
        # window starts there), and the lane reads it to check the window.
        wait_until(lambda: clock.reads >= 3 and not local.idle())
        clock.now += 59.9
        wait_until(lambda: clock.reads >= 6)  # the lane looked again
        assert len(function.batches) == 2
        clock.now += 0.1
        wait_until(local.idle)
    finally:
        local.stop()
    assert [len(batch) for batch in function.batches] == [3, 3, 1]
    assert [int(s) for batch in function.batches for s in batch] == sorted(int(s) for b in function.batches for s in b)
    assert len(local.stats.completed_at) == 7


def test_records_that_waited_out_their_window_while_the_function_was_busy_go_at_once(aws: Any) -> None:
    stream = new_stream("k")
    clock = Clock(datetime.now(UTC))
    release = threading.Event()

    def answer(_: list[str]) -> InvocationResult:
        release.wait(WAIT_SECONDS)  # the first invocation holds the lane until released
        return ok()

    function = ScriptedFunction(answer)
    local = mapping(function, clock, stream_name=stream, batch_size=3, batching_window_seconds=60)
    local.start()
    try:
        wait_until(lambda: any(local._pending))  # the first record is in its lane, its window running
        clock.now += 60
        wait_until(lambda: len(function.batches) == 1)
        boto3.client("kinesis").put_record(StreamName=stream, Data=b"k-1", PartitionKey="k")
        wait_until(lambda: any(local._pending))  # read while the function is busy
        clock.now += 60  # its window ends during the invocation
        release.set()
        wait_until(lambda: len(function.batches) == 2)  # with the clock standing still: no second window
        wait_until(local.idle)
    finally:
        release.set()
        local.stop()
    assert [len(batch) for batch in function.batches] == [1, 1]


def test_a_mapping_is_busy_while_any_lane_invokes(aws: Any) -> None:
    keys = [f"sensor-{i}" for i in range(20)]
    lane_of = {key: zlib.crc32(key.encode()) % 2 for key in keys}
    first, second = (next(key for key in keys if lane_of[key] == lane) for lane in (0, 1))
    both_invoking = threading.Barrier(2, timeout=WAIT_SECONDS)
    release = threading.Event()

    def answer(_: list[str]) -> InvocationResult:
        both_invoking.wait()
        release.wait(WAIT_SECONDS)
        return ok()

    function = ScriptedFunction(answer)
    local = mapping(function, stream_name=new_stream(first, second), batch_size=1, parallelization_factor=2)
    local.start()
    try:
        wait_until(lambda: len(function.batches) == 2)
        assert not local.idle()
        release.set()
        wait_until(local.idle)
    finally:
        release.set()
        local.stop()
    assert len(local.stats.completed_at) == 2


def test_records_read_from_the_stream_are_retried_the_configured_times(aws: Any) -> None:
    function = ScriptedFunction(lambda batch: ok(batch[0]))
    local = mapping(function, stream_name=new_stream("k"), max_retry_attempts=1)
    local.start()
    try:
        wait_until(lambda: local.stats.batches_to_failure_destination == 1)
        wait_until(local.idle)
    finally:
        local.stop()
    assert len(function.batches) == 2
    (document,) = failure_documents(aws)
    assert document["requestContext"]["approximateInvokeCount"] == 2
    assert document["KinesisBatchInfo"]["shardId"] == SHARD


def test_lanes_split_a_shard_by_partition_key_and_keep_each_keys_order(aws: Any) -> None:
    keys = [f"sensor-{i % 5}" for i in range(40)]
    function = ScriptedFunction()
    local = mapping(function, stream_name=new_stream(*keys), batch_size=1, parallelization_factor=4)
    local.start()
    try:
        wait_until(lambda: len(local.stats.completed_at) == 40)
        wait_until(local.idle)
    finally:
        local.stop()
    delivered = [base64.b64decode(event["Records"][0]["kinesis"]["data"]).decode() for event in function.events]
    assert {event["Records"][0]["eventID"].split(":")[0] for event in function.events} == {SHARD}
    for key in set(keys):
        of_key = [int(data.rsplit("-", 1)[1]) for data in delivered if data.startswith(f"{key}-")]
        assert of_key == sorted(of_key), key
        assert len(of_key) == 8


def test_an_idle_mapping_is_one_whose_readers_are_at_the_tip_with_nothing_pending(aws: Any) -> None:
    local = mapping(ScriptedFunction(), stream_name=new_stream(shards=2), parallelization_factor=3)
    before = set(threading.enumerate())
    local.start()
    try:
        started = set(threading.enumerate()) - before
        assert len(started) == 2 * (1 + 3)  # per shard a reader and a thread per lane
        assert all(thread.daemon for thread in started)  # a run that stops early never waits for them
        wait_until(local.idle)
    finally:
        local.stop()


def test_a_mapping_is_idle_only_past_the_records_it_is_asked_about(aws: Any) -> None:
    stream = new_stream("k", "k")
    (shard,) = boto3.client("kinesis").list_shards(StreamName=stream)["Shards"]
    shard_id = shard["ShardId"]
    local = mapping(ScriptedFunction(), stream_name=stream)
    local.start()
    try:
        wait_until(lambda: len(local.stats.completed_at) == 2 and local.idle())
        last = max(int(sequence) for sequence in local.stats.completed_at)
        assert local.idle({shard_id: last})
        assert not local.idle({shard_id: last + 1})  # a record put since the reader last found the tip
        assert local.idle({"shardId-000000000009": last + 1})
    finally:
        local.stop()


# --- configuration from the deployed template -----------------------------------------------------------------------


def deployed(properties: dict[str, Any]) -> DeployedStack:
    return DeployedStack(
        name="iot-sandbox-ingest",
        template={
            "Resources": {
                "Mapping": {"Type": "AWS::Lambda::EventSourceMapping", "Properties": properties},
                "Live": {
                    "Type": "AWS::Lambda::Alias",
                    "Properties": {"FunctionName": {"Ref": "ProcessorFn"}, "Name": "live", "FunctionVersion": "1"},
                },
                "Other": {"Type": "AWS::S3::Bucket", "Properties": {}},
            }
        },
        outputs={"EventSourceMappingId": "local-mapping"},
        physical_ids={"ProcessorFn": "iot-sandbox-processor", "Stream": STREAM, "Failures": FAILURES},
    )


def test_settings_are_read_from_the_mapping_in_the_template(aws: Any) -> None:
    stack = deployed(
        {
            "FunctionName": {"Ref": "Live"},
            "EventSourceArn": {"Fn::GetAtt": ["Stream", "Arn"]},
            "BatchSize": 500,
            "MaximumBatchingWindowInSeconds": 2,
            "ParallelizationFactor": 3,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "BisectBatchOnFunctionError": True,
            "MaximumRetryAttempts": 4,
            "MaximumRecordAgeInSeconds": 7200,
            "StartingPosition": "LATEST",
            "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": ["Failures", "Arn"]}}},
        }
    )
    assert MappingSettings.from_stack(stack) == MappingSettings(
        mapping_id="local-mapping",
        function_logical_id="ProcessorFn",
        function_name="iot-sandbox-processor",
        alias_name="live",
        stream_name=STREAM,
        stream_arn=STREAM_ARN,
        batch_size=500,
        batching_window_seconds=2.0,
        parallelization_factor=3,
        report_batch_item_failures=True,
        bisect_on_error=True,
        max_retry_attempts=4,
        max_record_age_seconds=7200,
        starting_position="LATEST",
        on_failure_bucket=FAILURES,
    )


def test_absent_mapping_properties_take_lambdas_defaults(aws: Any) -> None:
    stack = deployed(
        {
            "FunctionName": {"Ref": "Live"},
            "EventSourceArn": {"Fn::GetAtt": ["Stream", "Arn"]},
            "StartingPosition": "TRIM_HORIZON",
        }
    )
    assert MappingSettings.from_stack(stack) == replace(
        SETTINGS,
        function_logical_id="ProcessorFn",
        function_name="iot-sandbox-processor",
        batch_size=100,
        batching_window_seconds=0.0,
        parallelization_factor=1,
        report_batch_item_failures=False,
        bisect_on_error=False,
        max_retry_attempts=-1,
        max_record_age_seconds=-1,
        on_failure_bucket=None,
    )
