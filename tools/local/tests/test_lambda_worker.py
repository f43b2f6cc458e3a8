"""The worker's table faults: the throttles first, then the server errors, then real writes, each counted as
DynamoDB would count it for the table's metrics."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tools.local.lambda_worker import Faults


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
    assert faults.table_writes.reply() == {"written": 2, "throttled": 2, "server_errors": 1}  # 3 sent, 1 unprocessed
    assert calls == [1]


def test_without_faults_every_write_goes_through() -> None:
    faults = Faults({})
    assert faults.batch_write(lambda: {}, {"RequestItems": {"readings": [{}]}}) == {}
    assert faults.table_writes.reply() == {"written": 1, "throttled": 0, "server_errors": 0}
