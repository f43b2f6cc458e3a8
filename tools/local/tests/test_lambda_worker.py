"""The worker's table faults: the throttles first, then the server errors, then real writes, each counted as
DynamoDB would count it for the table's metrics."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from tools.local.lambda_worker import Faults, TableWrites
from tools.local.tests.emulated import emulated_account


def totals(writes: TableWrites) -> dict[str, int]:
    return {kind: sum(by_second.values()) for kind, by_second in writes.reply().items()}


def test_injected_table_faults_come_first_then_every_write_is_counted() -> None:
    faults = Faults({"throttle_batch_writes": 2, "table_server_errors": 1})
    calls: list[int] = []

    def call() -> dict[str, Any]:
        calls.append(1)
        return {"UnprocessedItems": {"readings": [{"PutRequest": {}}]}}

    request: dict[str, Any] = {"RequestItems": {"readings": [{"PutRequest": {}}] * 3}}
    codes = []
    for _ in range(3):
        with pytest.raises(ClientError) as refused:
            faults.batch_write(call, request)
        codes.append(
            (refused.value.response["Error"]["Code"], refused.value.response["ResponseMetadata"]["HTTPStatusCode"])
        )
    assert codes == [
        ("ProvisionedThroughputExceededException", 400),
        ("ProvisionedThroughputExceededException", 400),
        ("InternalServerError", 500),
    ]
    assert calls == []
    assert faults.batch_write(call, request) == {"UnprocessedItems": {"readings": [{"PutRequest": {}}]}}
    # 3 items refused twice for capacity, 3 sent then of which 1 came back unprocessed: a throttle event per item
    assert totals(faults.table_writes) == {"written": 2, "throttled": 7, "server_errors": 1}
    assert calls == [1]


def test_without_faults_every_write_goes_through() -> None:
    faults = Faults({})
    assert faults.batch_write(lambda: {}, {"RequestItems": {"readings": [{}]}}) == {}
    assert totals(faults.table_writes) == {"written": 1, "throttled": 0, "server_errors": 0}


def test_without_faults_the_installed_hook_still_counts_the_functions_table_writes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The table's write metrics come from this count, so the hook is installed whether or not faults are asked for."""
    monkeypatch.setattr(BaseClient, "_make_api_call", getattr(BaseClient, "_make_api_call"))  # noqa: B009 - restored after
    faults = Faults({})
    faults.install()
    with emulated_account():
        dynamodb = boto3.client("dynamodb")
        dynamodb.create_table(
            TableName="readings",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        items: list[Any] = [{"PutRequest": {"Item": {"id": {"S": str(number)}}}} for number in range(3)]
        dynamodb.batch_write_item(RequestItems={"readings": items})
    assert totals(faults.table_writes) == {"written": 3, "throttled": 0, "server_errors": 0}


def test_a_throttled_invocation_has_every_write_throttled_and_spends_no_counted_fault() -> None:
    faults = Faults({"throttle_batch_writes": 1})
    faults.throttle_table = True
    request: dict[str, Any] = {"RequestItems": {"readings": [{"PutRequest": {}}] * 2}}
    for _ in range(3):
        with pytest.raises(ClientError) as refused:
            faults.batch_write(dict, request)
        assert refused.value.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
    assert totals(faults.table_writes) == {"written": 0, "throttled": 6, "server_errors": 0}
    faults.throttle_table = False
    with pytest.raises(ClientError):
        faults.batch_write(dict, request)  # the counted throttle is still there
    assert faults.batch_write(dict, request) == {}


def test_the_emulators_own_refusal_for_capacity_counts_a_throttle_per_item() -> None:
    faults = Faults({})
    refusal: Any = {"Error": {"Code": "ProvisionedThroughputExceededException"}, "ResponseMetadata": {}}

    def out_of_capacity() -> dict[str, Any]:
        raise ClientError(refusal, "BatchWriteItem")

    with pytest.raises(ClientError):
        faults.batch_write(out_of_capacity, {"RequestItems": {"readings": [{}, {}, {}]}})
    assert totals(faults.table_writes) == {"written": 0, "throttled": 3, "server_errors": 0}


def test_writes_are_counted_in_the_second_they_happen(monkeypatch: pytest.MonkeyPatch) -> None:
    """An invocation that retries throttled writes for a minute spans many periods of the table's metrics."""
    writes, clock = TableWrites(), iter([1000.2, 1000.9, 1001.0, 1003.5])
    monkeypatch.setattr("tools.local.lambda_worker.time.time", lambda: next(clock))
    writes.count("ProvisionedThroughputExceededException", 3)
    writes.count("ProvisionedThroughputExceededException", 2)
    writes.count("InternalServerError", 25)
    writes.add("written", 4)
    writes.add("written", 0)  # nothing happened: no datapoint
    assert writes.reply() == {"written": {"1003": 4}, "throttled": {"1000": 5}, "server_errors": {"1001": 1}}
