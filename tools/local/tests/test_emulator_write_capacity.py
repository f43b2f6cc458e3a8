"""The emulator's write capacity: a provisioned table throttles writes beyond its capacity as DynamoDB does.

moto runs in process here, with the emulator's limits installed and a clock the tests move.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.dynamodb.responses import DynamoHandler

from tools.local import emulator_server
from tools.local.emulator_server import BURST_SECONDS, WriteCapacity, item_bytes, with_put_capacity, with_write_capacity
from tools.local.tests.emulated import REGION, emulated_account

INDEX = "by_kind"


class Clock:
    """Epoch seconds that move only when a test moves them."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(emulator_server, "WRITE_CAPACITY", WriteCapacity(clock=clock))
    monkeypatch.setattr(DynamoHandler, "batch_write_item", with_write_capacity(DynamoHandler.batch_write_item))
    monkeypatch.setattr(DynamoHandler, "put_item", with_put_capacity(DynamoHandler.put_item))
    return clock


@pytest.fixture
def dynamodb(clock: Clock) -> Iterator[Any]:
    with emulated_account():
        # No retries by the SDK: each test sees exactly what the emulator answered.
        yield boto3.client("dynamodb", region_name=REGION, config=Config(retries={"max_attempts": 1}))


def create(client: Any, clock: Clock, *, writes: int | None, index_writes: int = 1000, name: str = "t") -> None:
    """A table keyed pk/sk with a global index on kind; provisioned with ``writes`` WCU, or on demand (None). The
    clock is set to its creation: no capacity is banked yet."""
    throughput = {"ReadCapacityUnits": 100, "WriteCapacityUnits": writes}
    index: dict[str, Any] = {
        "IndexName": INDEX,
        "KeySchema": [{"AttributeName": "kind", "KeyType": "HASH"}],
        "Projection": {"ProjectionType": "ALL"},
    }
    billing: dict[str, Any] = {"BillingMode": "PAY_PER_REQUEST"}
    if writes is not None:
        index["ProvisionedThroughput"] = {"ReadCapacityUnits": 100, "WriteCapacityUnits": index_writes}
        billing = {"BillingMode": "PROVISIONED", "ProvisionedThroughput": throughput}
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": "kind", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[index],
        **billing,
    )
    created = client.describe_table(TableName=name)["Table"]["CreationDateTime"].timestamp()
    clock.now = (math.floor(created * 1000) + 1) / 1000  # the API rounds the creation time down to milliseconds


def item(number: int, *, size: int = 100, kind: str | None = None) -> dict[str, Any]:
    """An item of exactly ``size`` bytes as DynamoDB counts them (with ``kind``, it is in the index too)."""
    fields: dict[str, Any] = {"pk": {"S": f"p{number:04d}"}, "sk": {"S": "s"}}
    if kind:
        fields["kind"] = {"S": kind}
    fields["pad"] = {"S": ""}
    fields["pad"] = {"S": "x" * (size - item_bytes(fields))}
    assert item_bytes(fields) == size
    return fields


def batch(client: Any, table: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    response: dict[str, Any] = client.batch_write_item(
        RequestItems={table: [{"PutRequest": {"Item": each}} for each in items]}
    )
    return response


def stored(client: Any, table: str) -> set[str]:
    return {each["pk"]["S"] for each in client.scan(TableName=table)["Items"]}


def unprocessed(response: dict[str, Any], table: str) -> list[str]:
    return [request["PutRequest"]["Item"]["pk"]["S"] for request in response.get("UnprocessedItems", {}).get(table, [])]


def test_an_on_demand_table_is_never_limited(dynamodb: Any, clock: Clock) -> None:
    create(dynamodb, clock, writes=None)
    for start in range(0, 100, 25):
        assert unprocessed(batch(dynamodb, "t", [item(n, kind="k") for n in range(start, start + 25)]), "t") == []
    assert len(stored(dynamodb, "t")) == 100


def test_with_no_capacity_left_the_whole_batch_is_refused(dynamodb: Any, clock: Clock) -> None:
    create(dynamodb, clock, writes=10)  # created now: nothing banked yet
    with pytest.raises(ClientError, match="ProvisionedThroughputExceededException") as refused:
        batch(dynamodb, "t", [item(n) for n in range(5)])
    assert "provisioned throughput for the table was exceeded" in str(refused.value)
    assert stored(dynamodb, "t") == set()


def test_a_batch_beyond_the_capacity_writes_what_fits_and_returns_the_rest_unprocessed(
    dynamodb: Any, clock: Clock
) -> None:
    create(dynamodb, clock, writes=10)
    clock.now += 1  # one second of 10 WCU
    response = batch(dynamodb, "t", [item(n) for n in range(25)])
    assert len(stored(dynamodb, "t")) == 10
    assert sorted(stored(dynamodb, "t") | set(unprocessed(response, "t"))) == [f"p{n:04d}" for n in range(25)]
    assert not stored(dynamodb, "t") & set(unprocessed(response, "t"))
    clock.now += 1.5  # 15 more units: the unprocessed ones fit now
    assert unprocessed(batch(dynamodb, "t", [item(int(pk[1:])) for pk in unprocessed(response, "t")]), "t") == []
    assert len(stored(dynamodb, "t")) == 25


@pytest.mark.parametrize(("size", "fits"), [(1024, 2), (1025, 1)])
def test_each_kb_of_an_item_costs_a_unit(dynamodb: Any, clock: Clock, size: int, fits: int) -> None:
    create(dynamodb, clock, writes=2)
    clock.now += 1
    response = batch(dynamodb, "t", [item(n, size=size) for n in range(2)])
    assert len(stored(dynamodb, "t")) == fits
    assert len(unprocessed(response, "t")) == 2 - fits


def test_unused_capacity_is_kept_for_five_minutes_and_no_more(dynamodb: Any, clock: Clock) -> None:
    create(dynamodb, clock, writes=1)
    clock.now += 10 * BURST_SECONDS  # idle far longer than the burst window
    for start in range(0, BURST_SECONDS, 25):  # 300 units banked, spent 25 at a time
        assert unprocessed(batch(dynamodb, "t", [item(n) for n in range(start, start + 25)]), "t") == []
    with pytest.raises(ClientError, match="ProvisionedThroughputExceededException"):
        batch(dynamodb, "t", [item(BURST_SECONDS)])
    assert len(stored(dynamodb, "t")) == BURST_SECONDS


def test_an_item_in_the_index_needs_the_index_capacity_too(dynamodb: Any, clock: Clock) -> None:
    create(dynamodb, clock, writes=100, index_writes=2)
    clock.now += 1
    response = batch(dynamodb, "t", [item(n, kind="k") for n in range(5)] + [item(n) for n in range(5, 10)])
    # The index had 2 units: two indexed items went through; every item outside the index did.
    assert sorted(unprocessed(response, "t")) == sorted({f"p{n:04d}" for n in range(5)} - stored(dynamodb, "t"))
    assert len(unprocessed(response, "t")) == 3
    assert {f"p{n:04d}" for n in range(5, 10)} <= stored(dynamodb, "t")


def test_put_item_is_refused_without_capacity_and_written_with_it(dynamodb: Any, clock: Clock) -> None:
    create(dynamodb, clock, writes=1)
    with pytest.raises(ClientError, match="ProvisionedThroughputExceededException"):
        dynamodb.put_item(TableName="t", Item=item(1))
    clock.now += 1
    dynamodb.put_item(TableName="t", Item=item(1))
    assert stored(dynamodb, "t") == {"p0001"}


def test_raised_capacity_takes_effect_at_once(dynamodb: Any, clock: Clock) -> None:
    create(dynamodb, clock, writes=1)
    clock.now += 1
    assert len(unprocessed(batch(dynamodb, "t", [item(n) for n in range(5)]), "t")) == 4
    dynamodb.update_table(TableName="t", ProvisionedThroughput={"ReadCapacityUnits": 100, "WriteCapacityUnits": 20})
    clock.now += 1
    assert unprocessed(batch(dynamodb, "t", [item(n) for n in range(10, 30)]), "t") == []
