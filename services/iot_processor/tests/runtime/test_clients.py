"""The table client's batch writes: bodies written by json.dumps, exactly as botocore's serializer writes them."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import botocore.serialize
import botocore.session
import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.serialize import JSONSerializer

from services.iot_processor.runtime.clients import PLAIN_JSON_OPERATIONS, AwsClients, PlainJsonBatchWrites
from services.iot_processor.runtime.table import StoredReading, item_for
from shared.readings.anomalies import Severity
from shared.readings.schema import Reading

SERVICE = botocore.session.get_session().get_service_model("dynamodb")
TABLE = "readings"
AT = datetime(2026, 11, 30, 12, 0, 0, 250_000, tzinfo=UTC)


def items() -> list[dict[str, Any]]:
    """Items as the table adapter writes them: a plain one, an anomaly, text JSON must escape, text beyond ASCII."""
    readings = [
        Reading(sensor_id="s-1", sensor_type="temperature", value=Decimal("21.5"), timestamp=AT, reading_id="r-1"),
        Reading(
            sensor_id='quote " and \\ backslash',
            sensor_type="pressure",
            value=Decimal("-0.001"),
            timestamp=AT,
            reading_id="r-2",
            unit="°C",
            site="Zürich 🌡",
            device="tab\there",
            synthetic_run="run-1",
        ),
    ]
    severities = [None, Severity.CRITICAL]
    return [
        item_for(StoredReading(reading=reading, severity=severity), ttl_days=7, anomaly_ttl_days=7, index_shards=4)
        for reading, severity in zip(readings, severities, strict=True)
    ]


def batch_write(*written: dict[str, Any]) -> dict[str, Any]:
    return {"RequestItems": {TABLE: [{"PutRequest": {"Item": item}} for item in written]}}


def botocores(parameters: dict[str, Any], operation: str) -> dict[str, Any]:
    serialized: dict[str, Any] = botocore.serialize.create_serializer(
        "json", include_validation=True
    ).serialize_to_request(parameters, SERVICE.operation_model(operation))
    return serialized


def ours(parameters: dict[str, Any], operation: str) -> dict[str, Any]:
    serializer = PlainJsonBatchWrites(botocore.serialize.create_serializer("json", include_validation=False))
    return serializer.serialize_to_request(parameters, SERVICE.operation_model(operation))


def test_a_batch_write_of_the_adapters_items_is_the_request_botocore_makes() -> None:
    parameters = batch_write(*items())
    assert ours(parameters, "BatchWriteItem") == botocores(parameters, "BatchWriteItem")


@pytest.mark.parametrize(
    "value",
    [{"B": b"\x00\xff"}, {"BS": [b"\x01"]}, {"M": {"nested": {"B": b"\x02"}}}],
    ids=["binary", "binary set", "binary in a map"],
)
def test_a_batch_write_json_cannot_write_goes_through_botocores_serializer(value: dict[str, Any]) -> None:
    parameters = batch_write({**items()[0], "raw": value})
    assert ours(parameters, "BatchWriteItem") == botocores(parameters, "BatchWriteItem")


def test_other_operations_go_through_botocores_serializer(monkeypatch: pytest.MonkeyPatch) -> None:
    assert frozenset({"BatchWriteItem"}) == PLAIN_JSON_OPERATIONS
    parameters = {
        "TableName": TABLE,
        "KeyConditionExpression": "sensor_id = :s",
        "ExpressionAttributeValues": {":s": {"S": "s-1"}},
    }
    expected = botocores(parameters, "Query")
    walked: list[str] = []
    walk = JSONSerializer._serialize  # type: ignore[attr-defined]

    def counted(serializer: JSONSerializer, serialized: Any, value: Any, shape: Any, key: Any = None) -> None:
        walked.append(shape.name)
        walk(serializer, serialized, value, shape, key)

    monkeypatch.setattr(JSONSerializer, "_serialize", counted)
    assert ours(parameters, "Query") == expected
    assert "AttributeValue" in walked


def test_the_table_client_writes_batches_without_walking_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")  # pragma: allowlist secret (never sent)
    parameters = batch_write(*items())
    expected = botocores(parameters, "BatchWriteItem")["body"]

    def no_walk(*_: Any, **__: Any) -> None:
        raise AssertionError("botocore walked the items of a batch write")

    monkeypatch.setattr(JSONSerializer, "_serialize_type_map", no_walk)
    client: Any = AwsClients().dynamodb
    sent: list[bytes] = []

    def answer(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        sent.append(params["body"])  # the request as serialized, before signing and sending
        return AWSResponse(params["url"], 200, HTTPHeaders(), None), {"UnprocessedItems": {}}

    client.meta.events.register("before-call.dynamodb.BatchWriteItem", answer)
    assert client.batch_write_item(**parameters)["UnprocessedItems"] == {}
    assert sent == [expected]
