"""The local emulator: moto's server split by service after the deploy, and its plain-JSON item responses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import boto3
import pytest
from moto.core.responses import ActionResult, BaseResponse
from moto.core.utils import get_service_model
from moto.dynamodb.exceptions import ItemSizeTooLarge
from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
from moto.kinesis.models import Shard
from moto.sqs.models import Queue, sqs_backends

from tools.common.local_service import endpoint_variable
from tools.local import emulator
from tools.local.emulator import LOCAL_ACCOUNT as ACCOUNT
from tools.local.emulator import embedded_aws
from tools.local.emulator_server import (
    BINARY_ATTRIBUTE_MARKERS,
    ITEM_SIZE_LIMIT,
    PLAIN_JSON_OPERATIONS,
    PLAIN_JSON_REQUESTS,
    QueueAttributes,
    backend_app,
    item_sized_once,
    last_sequence_number,
    records_after,
    with_plain_json,
    with_plain_json_requests,
)
from tools.local.tests.emulated import REGION, emulated_account

# Every attribute type DynamoDB has but the binary ones, nested ones included.
ITEM: dict[str, Any] = {
    "pk": {"S": "sensor-1"},
    "sk": {"S": "2026-01-01T00:00:00Z#r1"},
    "number": {"N": "21.50"},
    "strings": {"SS": ["a", "b"]},
    "numbers": {"NS": ["1", "2.5"]},
    "flag": {"BOOL": True},
    "nothing": {"NULL": True},
    "map": {"M": {"inner": {"S": "x"}, "deep": {"L": [{"N": "1"}, {"S": "z"}]}}},
    "list": {"L": [{"S": "y"}, {"M": {"k": {"BOOL": False}}}]},
}
WITH_BINARIES = {**ITEM, "binary": {"B": b"\x00\xff"}, "binaries": {"BS": [b"\x01", b"\x02"]}}
KEY = {"pk": ITEM["pk"], "sk": ITEM["sk"]}


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with emulated_account():
        client = boto3.client("dynamodb", region_name=REGION)
        client.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


def item_operations(client: Any, item: dict[str, Any]) -> dict[str, Any]:
    """A call of each item operation on ``item``, as the client parses its answer (request ids aside)."""
    client.put_item(TableName="t", Item=item)
    calls: dict[str, Callable[[], dict[str, Any]]] = {
        "BatchGetItem": lambda: client.batch_get_item(RequestItems={"t": {"Keys": [KEY]}}),
        "BatchWriteItem": lambda: client.batch_write_item(RequestItems={"t": [{"PutRequest": {"Item": item}}]}),
        "GetItem": lambda: client.get_item(TableName="t", Key=KEY),
        "PutItem": lambda: client.put_item(TableName="t", Item=item, ReturnValues="ALL_OLD"),
        "Query": lambda: client.query(
            TableName="t", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": ITEM["pk"]}
        ),
        "Scan": lambda: client.scan(
            TableName="t", ProjectionExpression="pk, #m", ExpressionAttributeNames={"#m": "map"}
        ),
    }
    assert {("dynamodb", name) for name in calls} == {op for op in PLAIN_JSON_OPERATIONS if op[0] == "dynamodb"}
    return {name: _without_metadata(call()) for name, call in calls.items()}


def _without_metadata(response: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in response.items() if key != "ResponseMetadata"}


@pytest.mark.parametrize(
    ("item", "through_motos_parser"),
    [
        (ITEM, []),
        # a request carrying a binary value goes through moto's parser, which decodes the base64
        (WITH_BINARIES, ["BatchWriteItem", "PutItem"]),
    ],
)
def test_item_operations_answer_as_through_motos_parser_and_serializer(
    dynamodb: Any, monkeypatch: pytest.MonkeyPatch, item: dict[str, Any], through_motos_parser: list[str]
) -> None:
    expected = item_operations(dynamodb, item)
    serialized: list[str] = []
    parsed: list[str] = []
    serialize, parse = ActionResult.execute_result, BaseResponse.parse_parameters

    def counted_serialize(result: ActionResult, context: Any) -> Any:
        serialized.append(context.operation_model.name)
        return serialize(result, context)

    def counted_parse(response: BaseResponse, request: Any) -> None:
        parsed.append(response._get_action())
        parse(response, request)

    monkeypatch.setattr(ActionResult, "execute_result", with_plain_json(counted_serialize))
    monkeypatch.setattr(BaseResponse, "parse_parameters", with_plain_json_requests(counted_parse))
    answers = item_operations(dynamodb, item)
    assert answers == expected
    assert serialized == []  # binary values too: written as base64, as the model writes a blob
    assert sorted(set(parsed)) == through_motos_parser


def test_plain_json_requests_hold_no_value_motos_parser_would_convert() -> None:
    """json.loads reads a request as moto's parser does when the model has nothing to convert in it: no timestamp,
    no float, no renamed member, and blobs only as attribute values' B and BS, which are looked for in the body."""
    converted: set[str] = set()

    def visit(shape: Any, path: str, seen: frozenset[str]) -> None:
        if shape.name in seen:
            return
        if shape.type_name in ("blob", "timestamp", "float", "double"):
            converted.add(path)
        for name, member in getattr(shape, "members", {}).items():
            assert member.serialization.get("name", name) == name, path
            visit(member, f"{shape.name}.{name}", seen | {shape.name})
        for child in ("member", "key", "value"):
            if hasattr(shape, child):
                visit(getattr(shape, child), path, seen | {shape.name})

    model = get_service_model("dynamodb")
    for _, operation in PLAIN_JSON_REQUESTS:
        visit(model.operation_model(operation).input_shape, operation, frozenset())
    assert converted == {"AttributeValue.B", "AttributeValue.BS"}
    assert {marker.strip(b'"').decode() for marker in BINARY_ATTRIBUTE_MARKERS} == {"B", "BS"}


def test_other_operations_go_through_motos_serializer(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    serialize = ActionResult.execute_result

    def counted(result: ActionResult, context: Any) -> Any:
        calls.append(context.operation_model.name)
        return serialize(result, context)

    monkeypatch.setattr(ActionResult, "execute_result", with_plain_json(counted))
    assert dynamodb.describe_table(TableName="t")["Table"]["TableName"] == "t"
    assert calls == ["DescribeTable"]


def test_kinesis_reads_and_puts_are_written_as_motos_serializer_writes_them() -> None:
    """The same results, serialized both ways: the documents on the wire are equal, blobs and times included."""
    results: list[tuple[ActionResult, Any]] = []
    serialize = ActionResult.execute_result

    def recorded(result: ActionResult, context: Any) -> Any:
        results.append((result, context))
        return serialize(result, context)

    with emulated_account(), pytest.MonkeyPatch.context() as patch:
        patch.setattr(ActionResult, "execute_result", recorded)
        kinesis: Any = boto3.client("kinesis", region_name=REGION)
        kinesis.create_stream(StreamName="s", ShardCount=1)
        records = [{"Data": bytes([index]) * index + b"\xff", "PartitionKey": f"k{index}"} for index in range(3)]
        kinesis.put_records(StreamName="s", Records=records)
        shard_id = kinesis.list_shards(StreamName="s")["Shards"][0]["ShardId"]
        iterator = kinesis.get_shard_iterator(StreamName="s", ShardId=shard_id, ShardIteratorType="TRIM_HORIZON")
        read = kinesis.get_records(ShardIterator=iterator["ShardIterator"])
    assert [record["Data"] for record in read["Records"]] == [record["Data"] for record in records]
    fallbacks: list[str] = []

    def fallback(result: ActionResult, context: Any) -> Any:
        fallbacks.append(context.operation_model.name)
        return serialize(result, context)

    plain = {name: pair for pair in results if (name := pair[1].operation_model.name) in ("PutRecords", "GetRecords")}
    assert sorted(plain) == ["GetRecords", "PutRecords"]
    for result, context in plain.values():
        status, headers, body = with_plain_json(fallback)(result, context)
        motos_status, motos_headers, motos_body = serialize(result, context)
        assert (status, headers["Content-Type"], json.loads(body)) == (
            motos_status,
            motos_headers["Content-Type"],
            json.loads(motos_body),
        )
    assert fallbacks == []


def _built(build: Callable[..., None], attrs: dict[str, Any]) -> Item | type[Exception]:
    item = cast(Item, Item.__new__(Item))
    try:
        build(item, DynamoType(ITEM["pk"]), DynamoType(ITEM["sk"]), attrs)
    except ItemSizeTooLarge as error:
        return type(error)
    return item


@pytest.mark.parametrize("padding", [ITEM_SIZE_LIMIT - 1, ITEM_SIZE_LIMIT, ITEM_SIZE_LIMIT + 1])
def test_an_item_sized_once_is_built_or_refused_as_motos(padding: int) -> None:
    """Both sides of moto's item size limit, with the padding last (moto refuses on that addition) and first."""
    size_of_the_rest = sum(len(key) + DynamoType(value).size() for key, value in ITEM.items()) + len("pad")
    pad = {"pad": {"S": "x" * (padding - size_of_the_rest)}}
    for attrs in ({**ITEM, **pad}, {**pad, **ITEM}):
        ours, motos = _built(item_sized_once, attrs), _built(Item.__init__, attrs)
        assert ours == motos
        assert isinstance(ours, Item) == (padding <= ITEM_SIZE_LIMIT)
        if isinstance(ours, Item):
            assert type(ours.attrs) is LimitedSizeDict
            assert list(ours.attrs) == list(attrs)


@pytest.mark.parametrize("records", [0, 1, 3])
def test_the_last_sequence_number_is_motos_own(records: int) -> None:
    shard = Shard(0, 0, 2**128)
    for index in range(records):
        shard.put_record(f"key-{index}", "ZGF0YQ==", "")
    assert last_sequence_number(shard) == shard.get_max_sequence_number() == records


def _shard(records: int) -> Shard:
    shard = Shard(0, 0, 2**128)
    for index in range(records):
        shard.put_record(f"key-{index}", "ZGF0YQ==", "")
        shard.records[index + 1].created_at = 1_000.0 + index * 0.25  # distinct arrivals: milliseconds behind differ
    return shard


@pytest.mark.parametrize("records", [0, 1, 5])
@pytest.mark.parametrize("last", [-1, 0, 1, 3, 5, 7])
@pytest.mark.parametrize("limit", [None, 0, 1, 2, 10])
def test_records_after_a_position_are_motos_own(records: int, last: int, limit: int | None) -> None:
    shard = _shard(records)
    assert records_after(shard, str(last), limit) == Shard.get_records(shard, str(last), limit)


def test_a_shard_with_gaps_in_its_numbers_is_read_motos_way() -> None:
    shard = _shard(5)
    del shard.records[3]
    for last in range(6):
        assert records_after(shard, str(last), 2) == Shard.get_records(shard, str(last), 2)
    assert [record.sequence_number for record in records_after(shard, "2", 2)[0]] == [4, 5]


def _queues() -> dict[str, Queue]:
    """Queues of every kind whose attributes differ: FIFO, KMS, a policy, a redrive policy; messages in each state."""
    backend = sqs_backends[ACCOUNT][REGION]
    dead_letters = backend.create_queue("dead-letters")
    queues = {
        "standard": backend.create_queue("standard"),
        "fifo": backend.create_queue("ordered.fifo", FifoQueue="true", ContentBasedDeduplication="true"),
        "kms": backend.create_queue("encrypted", KmsMasterKeyId="alias/aws/sqs", KmsDataKeyReusePeriodSeconds="600"),
        "policy and redrive": backend.create_queue(
            "redriven",
            Policy=json.dumps({"Version": "2012-10-17", "Statement": []}),
            RedrivePolicy=json.dumps({"deadLetterTargetArn": dead_letters.queue_arn, "maxReceiveCount": 3}),
        ),
    }
    backend.send_message("standard", "visible")
    backend.send_message("standard", "delayed", delay_seconds=600)
    backend.send_message("standard", "in flight")
    backend.receive_message("standard", 1, 0, visibility_timeout=600)
    return queues


@pytest.mark.parametrize("kind", ["standard", "fifo", "kms", "policy and redrive"])
def test_a_queues_attributes_read_one_by_one_are_motos_own(kind: str) -> None:
    with emulated_account():
        queue = _queues()[kind]
        motos = queue.attributes
        attributes = QueueAttributes(queue)
        assert list(attributes.items()) == list(motos.items())  # the same names, in moto's order
        assert all(attributes.get(name) == value for name, value in motos.items())
        assert attributes.get("NoSuchAttribute") is None
        assert "NoSuchAttribute" not in attributes
        assert len(attributes) == len(motos)


def test_a_queues_message_counts_are_read_when_asked_for() -> None:
    with emulated_account():
        queue = _queues()["standard"]
        attributes = QueueAttributes(queue)
        assert attributes["ApproximateNumberOfMessages"] == 1
        assert attributes["ApproximateNumberOfMessagesDelayed"] == 1
        assert attributes["ApproximateNumberOfMessagesNotVisible"] == 1
        sqs_backends[ACCOUNT][REGION].send_message("standard", "another")
        assert attributes["ApproximateNumberOfMessages"] == 2


def test_motos_applications_run_out_of_flasks_debug_mode() -> None:
    assert backend_app("dynamodb").debug is False


def test_a_split_service_keeps_what_was_deployed_and_its_own_state_after() -> None:
    with embedded_aws(REGION) as emulator:
        assert "AWS::S3::Bucket" in emulator.modelled_types
        boto3.client("s3").create_bucket(Bucket="deployed", CreateBucketConfiguration={"LocationConstraint": REGION})
        emulator.split({"s3": ("s3",)})
        assert os.environ[endpoint_variable("s3")] == emulator.endpoints["s3"] != emulator.endpoint
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="after-split", CreateBucketConfiguration={"LocationConstraint": REGION})
        root = boto3.client("s3", endpoint_url=emulator.endpoint)
        listed = s3.list_buckets()
        assert {b["Name"] for b in listed["Buckets"]} == {"deployed", "after-split"}
        assert {b["Name"] for b in root.list_buckets()["Buckets"]} == {"deployed"}
        assert not [name for name in listed["ResponseMetadata"]["HTTPHeaders"] if name.startswith("access-control-")]
    assert endpoint_variable("s3") not in os.environ


def test_a_split_off_process_that_dies_is_reported_with_how_and_one_that_is_stopped_is_not() -> None:
    with embedded_aws(REGION) as running:
        running.split({"s3": ("s3",), "kinesis": ("kinesis",)})
        assert running.failures() == []
        os.kill(running.copies["kinesis"], signal.SIGKILL)
        for _ in range(100):
            if running.failures():
                break
            time.sleep(0.05)
        (failure,) = running.failures()
        assert (
            str(failure)
            == f"the emulator's kinesis process (pid {running.copies['kinesis']}) was killed by signal 9 (SIGKILL)"
        )
        copies = dict(running.copies)
    time.sleep(0.5)
    assert running.failures() == [failure]  # stopping the emulator reports nothing more
    assert not [
        pid
        for pid in copies.values()
        if Path(f"/proc/{pid}").exists()
        and "emulator_server" in Path(f"/proc/{pid}/cmdline").read_text(errors="replace")
    ]


# --- an emulator an earlier run left behind ---------------------------------------------------------------------------


@pytest.fixture
def serving() -> Iterator[subprocess.Popen[bytes]]:
    """An emulator server up and serving, its stdin left open as if its runner hung; killed after the test."""
    server = subprocess.Popen(
        [sys.executable, str(emulator.SERVER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    try:
        assert server.stdout is not None
        assert b'"port"' in server.stdout.readline()
        yield server
    finally:
        server.kill()
        server.wait()


@pytest.mark.parametrize("runner", ["none recorded", "ended"])
def test_a_stale_emulator_is_stopped_when_no_run_it_served_is_alive(
    runner: str, serving: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    recorded = f"{serving.pid}"
    if runner == "ended":
        ended = subprocess.Popen(["true"])
        ended.wait()
        recorded += f" {ended.pid}"
    pid_file = tmp_path / "local-emulator.pid"
    pid_file.write_text(f"{recorded}\n")
    assert emulator.stop_stale(pid_file) == serving.pid
    assert serving.wait(timeout=10) != 0
    assert not pid_file.exists()


def test_the_emulator_of_a_run_still_going_is_left_running(serving: subprocess.Popen[bytes], tmp_path: Path) -> None:
    run = subprocess.Popen(["sleep", "30"])  # another run, in another terminal or test worker
    try:
        pid_file = tmp_path / "local-emulator.pid"
        pid_file.write_text(f"{serving.pid} {run.pid}\n")
        assert emulator.stop_stale(pid_file) is None
        assert serving.poll() is None
        assert pid_file.read_text() == f"{serving.pid} {run.pid}\n"  # still its run's record
    finally:
        run.kill()
        run.wait()


def test_a_pid_file_naming_another_program_stops_nothing(tmp_path: Path) -> None:
    other = subprocess.Popen(["sleep", "30"])
    try:
        pid_file = tmp_path / "local-emulator.pid"
        pid_file.write_text(f"{other.pid}\n")
        assert emulator.stop_stale(pid_file) is None
        assert other.poll() is None
        assert not pid_file.exists()  # stale either way
    finally:
        other.kill()
        other.wait()


@pytest.mark.parametrize("content", [None, "", "not a pid\n", "999999999\n"])
def test_no_pid_file_a_garbled_one_or_a_gone_process_stops_nothing(tmp_path: Path, content: str | None) -> None:
    pid_file = tmp_path / "local-emulator.pid"
    if content is not None:
        pid_file.write_text(content)
    assert emulator.stop_stale(pid_file) is None
