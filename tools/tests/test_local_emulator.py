"""The local emulator: moto's server split by service after the deploy, and its plain-JSON item responses."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto.core.responses import ActionResult
from moto.kinesis.models import Shard

from tools.local.emulator import embedded_aws, endpoint_variable
from tools.local.emulator_server import PLAIN_JSON_OPERATIONS, last_sequence_number, with_plain_json
from tools.tests.local_loops import REGION, emulated_account

# Every attribute type DynamoDB has but the binary ones, nested ones included.
ITEM = {
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
    assert {("dynamodb", name) for name in calls} == PLAIN_JSON_OPERATIONS
    return {name: _without_metadata(call()) for name, call in calls.items()}


def _without_metadata(response: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in response.items() if key != "ResponseMetadata"}


@pytest.mark.parametrize(
    ("item", "through_motos_serializer"),
    [
        (ITEM, []),
        # bytes cannot be written as they are: what answers with them goes through moto's serializer (the scan
        # projects no binary attribute)
        (WITH_BINARIES, ["BatchGetItem", "GetItem", "PutItem", "Query"]),
    ],
)
def test_item_operations_answer_as_through_motos_serializer(
    dynamodb: Any, monkeypatch: pytest.MonkeyPatch, item: dict[str, Any], through_motos_serializer: list[str]
) -> None:
    expected = item_operations(dynamodb, item)
    calls: list[str] = []
    serialize = ActionResult.execute_result

    def counted(result: ActionResult, context: Any) -> Any:
        calls.append(context.operation_model.name)
        return serialize(result, context)

    monkeypatch.setattr(ActionResult, "execute_result", with_plain_json(counted))
    answers = item_operations(dynamodb, item)
    assert answers == expected
    assert sorted(set(calls)) == through_motos_serializer


def test_other_operations_go_through_motos_serializer(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    serialize = ActionResult.execute_result

    def counted(result: ActionResult, context: Any) -> Any:
        calls.append(context.operation_model.name)
        return serialize(result, context)

    monkeypatch.setattr(ActionResult, "execute_result", with_plain_json(counted))
    assert dynamodb.describe_table(TableName="t")["Table"]["TableName"] == "t"
    assert calls == ["DescribeTable"]


@pytest.mark.parametrize("records", [0, 1, 3])
def test_the_last_sequence_number_is_motos_own(records: int) -> None:
    shard = Shard(0, 0, 2**128)
    for index in range(records):
        shard.put_record(f"key-{index}", "ZGF0YQ==", "")
    assert last_sequence_number(shard) == shard.get_max_sequence_number() == records


def test_a_split_service_keeps_what_was_deployed_and_its_own_state_after() -> None:
    with embedded_aws(REGION) as emulator:
        assert "AWS::S3::Bucket" in emulator.modelled_types
        boto3.client("s3").create_bucket(Bucket="deployed", CreateBucketConfiguration={"LocationConstraint": REGION})
        emulator.split({"s3": ("s3",)})
        assert os.environ[endpoint_variable("s3")] == emulator.endpoints["s3"] != emulator.endpoint
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="after-split", CreateBucketConfiguration={"LocationConstraint": REGION})
        root = boto3.client("s3", endpoint_url=emulator.endpoint)
        assert {b["Name"] for b in s3.list_buckets()["Buckets"]} == {"deployed", "after-split"}
        assert {b["Name"] for b in root.list_buckets()["Buckets"]} == {"deployed"}
    assert endpoint_variable("s3") not in os.environ
