"""The emulator's point-in-time recovery: a restore to a time gives the table exactly as a scan at that time did.

moto runs in process with the shortcut installed (tools/local/emulator_server.py, ADR 0012) and a clock the tests move.
moto's own restore copies the table as it is at the restore, whatever time was asked for: the first test tells the two
apart.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler

from tools.local import emulator_server
from tools.local.emulator_server import (
    PointInTimeRecovery,
    delete_item_kept,
    delete_table_forgotten,
    describe_continuous_backups_now,
    put_item_kept,
    restore_table_to_a_time,
    update_item_kept,
)
from tools.local.tests.emulated import REGION, emulated_account

TABLE = "readings"


class Clock:
    """Epoch seconds that move only when a test moves them, a whole second at a time (the API's times are
    milliseconds); they start after the recovery window opens."""

    def __init__(self) -> None:
        self.now = float(math.ceil(time.time()) + 1)

    def __call__(self) -> float:
        return self.now

    def tick(self) -> float:
        self.now += 1
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(emulator_server, "POINT_IN_TIME", PointInTimeRecovery(clock=clock))
    monkeypatch.setattr(Table, "put_item", put_item_kept)
    monkeypatch.setattr(Table, "delete_item", delete_item_kept)
    monkeypatch.setattr(DynamoDBBackend, "update_item", update_item_kept)
    monkeypatch.setattr(DynamoDBBackend, "describe_continuous_backups", describe_continuous_backups_now)
    monkeypatch.setattr(DynamoDBBackend, "delete_table", delete_table_forgotten)
    monkeypatch.setattr(DynamoHandler, "restore_table_to_point_in_time", restore_table_to_a_time)
    return clock


@pytest.fixture
def dynamodb(clock: Clock) -> Iterator[Any]:
    with emulated_account():
        client = boto3.client("dynamodb", region_name=REGION)
        create(client, TABLE, range_key=True)
        yield client


def create(client: Any, name: str, *, range_key: bool, recovery: bool = True) -> None:
    keys = [("pk", "HASH"), ("sk", "RANGE")] if range_key else [("pk", "HASH")]
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": attribute, "KeyType": kind} for attribute, kind in keys],
        AttributeDefinitions=[{"AttributeName": attribute, "AttributeType": "S"} for attribute, _ in keys],
        BillingMode="PAY_PER_REQUEST",
    )
    if recovery:
        client.update_continuous_backups(
            TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )


def put(client: Any, pk: str, sk: str, value: str, table: str = TABLE) -> None:
    client.put_item(TableName=table, Item={"pk": {"S": pk}, "sk": {"S": sk}, "v": {"S": value}})


def scan(client: Any, table: str) -> list[dict[str, Any]]:
    items = client.scan(TableName=table)["Items"]
    return sorted(items, key=lambda item: (item["pk"]["S"], item.get("sk", {}).get("S", "")))


def restore(client: Any, target: str, **when: Any) -> list[dict[str, Any]]:
    client.restore_table_to_point_in_time(SourceTableName=TABLE, TargetTableName=target, **when)
    return scan(client, target)


def error_code(call: Any) -> str:
    with pytest.raises(ClientError) as error:
        call()
    return str(error.value.response["Error"]["Code"])


def test_a_restore_to_each_time_equals_the_scan_at_that_time(dynamodb: Any, clock: Clock) -> None:
    clock.tick()
    for pk, sk in (("a", "1"), ("a", "2"), ("b", "1")):
        put(dynamodb, pk, sk, "first")
    first = clock.now, scan(dynamodb, TABLE)
    clock.tick()
    put(dynamodb, "a", "1", "overwritten")
    dynamodb.delete_item(TableName=TABLE, Key={"pk": {"S": "a"}, "sk": {"S": "2"}})
    put(dynamodb, "c", "1", "new")
    second = clock.now, scan(dynamodb, TABLE)
    clock.tick()
    dynamodb.update_item(
        TableName=TABLE,
        Key={"pk": {"S": "b"}, "sk": {"S": "1"}},
        UpdateExpression="SET v = :v",
        ExpressionAttributeValues={":v": {"S": "updated"}},
    )
    now = scan(dynamodb, TABLE)
    assert len({str(state) for state in (first[1], second[1], now)}) == 3  # three different tables
    for number, (at, state) in enumerate((first, second)):
        assert restore(dynamodb, f"restored-{number}", RestoreDateTime=at) == state
    assert restore(dynamodb, "latest", UseLatestRestorableTime=True) == now


def test_a_write_at_the_restore_time_is_in_the_restore_and_one_just_after_is_not(dynamodb: Any, clock: Clock) -> None:
    clock.tick()
    put(dynamodb, "a", "1", "before")
    written = clock.tick()
    put(dynamodb, "a", "1", "at")
    clock.tick()
    put(dynamodb, "a", "1", "after")
    assert restore(dynamodb, "at-the-write", RestoreDateTime=written)[0]["v"] == {"S": "at"}
    assert restore(dynamodb, "just-before", RestoreDateTime=written - 0.001)[0]["v"] == {"S": "before"}


def test_an_item_written_before_recovery_was_enabled_is_restored_as_it_was(dynamodb: Any, clock: Clock) -> None:
    create(dynamodb, "older", range_key=False, recovery=False)
    dynamodb.put_item(TableName="older", Item={"pk": {"S": "x"}, "v": {"S": "original"}})
    dynamodb.update_continuous_backups(
        TableName="older", PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
    )
    before_the_changes = clock.tick()
    clock.tick()
    dynamodb.put_item(TableName="older", Item={"pk": {"S": "x"}, "v": {"S": "changed"}})
    dynamodb.delete_item(TableName="older", Key={"pk": {"S": "x"}})
    dynamodb.restore_table_to_point_in_time(
        SourceTableName="older", TargetTableName="older-restored", RestoreDateTime=before_the_changes
    )
    assert scan(dynamodb, "older-restored") == [{"pk": {"S": "x"}, "v": {"S": "original"}}]
    assert scan(dynamodb, "older") == []


def test_the_restored_table_says_when_it_was_restored_to_and_keeps_the_billing_mode(
    dynamodb: Any, clock: Clock
) -> None:
    at = clock.tick()
    clock.tick()
    table = dynamodb.restore_table_to_point_in_time(
        SourceTableName=TABLE, TargetTableName="restored", RestoreDateTime=at
    )["TableDescription"]
    assert table["RestoreSummary"]["RestoreDateTime"].timestamp() == pytest.approx(at, abs=0.001)
    assert table["RestoreSummary"]["SourceTableArn"].endswith(f":table/{TABLE}")
    described = dynamodb.describe_table(TableName="restored")["Table"]
    assert described["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"


def test_the_latest_restorable_time_is_now(dynamodb: Any, clock: Clock) -> None:
    clock.tick()
    description = dynamodb.describe_continuous_backups(TableName=TABLE)["ContinuousBackupsDescription"]
    window = description["PointInTimeRecoveryDescription"]
    assert window["LatestRestorableDateTime"].timestamp() == pytest.approx(clock.now, abs=0.001)
    assert window["EarliestRestorableDateTime"].timestamp() < clock.now


def test_a_time_outside_the_recoverable_window_is_refused_and_its_edges_are_not(dynamodb: Any, clock: Clock) -> None:
    window = dynamodb.describe_continuous_backups(TableName=TABLE)["ContinuousBackupsDescription"][
        "PointInTimeRecoveryDescription"
    ]
    earliest = window["EarliestRestorableDateTime"].timestamp()
    assert restore(dynamodb, "at-earliest", RestoreDateTime=earliest) == []
    assert restore(dynamodb, "at-latest", RestoreDateTime=clock.now) == []
    for name, at in (("too-early", earliest - 1), ("in-the-future", clock.now + 0.01)):
        code = error_code(
            lambda at=at, name=name: dynamodb.restore_table_to_point_in_time(
                SourceTableName=TABLE, TargetTableName=name, RestoreDateTime=at
            )
        )
        assert code == "InvalidRestoreTimeException"


@pytest.mark.parametrize(
    "when",
    [{}, {"UseLatestRestorableTime": True, "RestoreDateTime": 1}, {"UseLatestRestorableTime": False}],
    ids=["neither", "both", "latest-false"],
)
def test_exactly_one_of_a_time_and_the_latest_must_be_asked_for(dynamodb: Any, when: dict[str, Any]) -> None:
    code = error_code(
        lambda: dynamodb.restore_table_to_point_in_time(SourceTableName=TABLE, TargetTableName="target", **when)
    )
    assert code == "ValidationException"


def test_a_table_without_recovery_an_unknown_table_and_a_taken_name_are_refused(dynamodb: Any) -> None:
    create(dynamodb, "unprotected", range_key=False, recovery=False)

    def restore_from(source: str, target: str = "target") -> Any:
        return lambda: dynamodb.restore_table_to_point_in_time(
            SourceTableName=source, TargetTableName=target, UseLatestRestorableTime=True
        )

    assert error_code(restore_from("unprotected")) == "PointInTimeRecoveryUnavailableException"
    assert error_code(restore_from("missing")) == "SourceTableNotFoundException"
    assert error_code(restore_from(TABLE, target="unprotected")) == "TableAlreadyExistsException"


def test_a_table_created_again_under_the_same_name_has_no_past(dynamodb: Any, clock: Clock) -> None:
    """The restore drill's rebuild: the lost table's writes must not come back in the new one's restores."""
    clock.tick()
    put(dynamodb, "a", "1", "of the lost table")
    dynamodb.delete_table(TableName=TABLE)
    create(dynamodb, TABLE, range_key=True)
    clock.tick()
    put(dynamodb, "b", "1", "of the new table")
    assert [item["v"] for item in restore(dynamodb, "latest-of-the-new", UseLatestRestorableTime=True)] == [
        {"S": "of the new table"}
    ]
