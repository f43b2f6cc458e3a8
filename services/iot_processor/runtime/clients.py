"""AWS clients, created on first use (never at import time, so tests and mocks see them) and injectable.

Made with botocore alone: importing boto3 also imports s3transfer and its resource layer, a large part of the
handler's cold import (docs/performance.md), for nothing the processor uses.
"""

from __future__ import annotations

import json
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol, cast

import botocore.session
from botocore.config import Config

if TYPE_CHECKING:
    from botocore.model import OperationModel
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_s3.client import S3Client
    from mypy_boto3_secretsmanager.client import SecretsManagerClient
    from mypy_boto3_sns.client import SNSClient

# Our own retry loop handles throttled batch writes with jitter; the SDK's adaptive mode covers the rest.
_CONFIG = Config(retries={"mode": "adaptive", "max_attempts": 5}, connect_timeout=2, read_timeout=5)
# The table's writes are the hot path, and much of the SDK's CPU went to re-checking, field by field, request shapes
# our own code guarantees (table.item_for builds and checks each item; docs/performance.md). A malformed request still
# fails, at the service, as a ValidationException the table adapter isolates to its item.
_TABLE_CONFIG = _CONFIG.merge(Config(parameter_validation=False))


PLAIN_JSON_OPERATIONS = frozenset({"BatchWriteItem"})


class RequestSerializer(Protocol):
    def serialize_to_request(self, parameters: dict[str, Any], operation_model: OperationModel) -> dict[str, Any]: ...


class PlainJsonBatchWrites:
    """The table client's request serializer: a batch write's body written by ``json.dumps`` in one pass.

    botocore's JSON serializer walks the API model for every attribute value of every item, the largest part of the
    SDK's CPU per reading. The table adapter writes only items that table.item_for built in DynamoDB's wire format
    (S, N and BOOL values, no nulls, no binary values), and for such a request the walk writes exactly what
    ``json.dumps`` writes. A request with bytes or datetimes, which ``json.dumps`` refuses, and every other operation
    go through botocore's serializer, which also still makes the request's method, target and headers.
    """

    def __init__(self, serializer: RequestSerializer) -> None:
        self._serializer = serializer

    def serialize_to_request(self, parameters: dict[str, Any], operation_model: OperationModel) -> dict[str, Any]:
        if operation_model.name in PLAIN_JSON_OPERATIONS:
            try:
                body = json.dumps(parameters).encode()
            except TypeError:
                pass
            else:
                request = self._serializer.serialize_to_request({}, operation_model)
                request["body"] = body
                return request
        return self._serializer.serialize_to_request(parameters, operation_model)


class AwsClients:
    def __init__(self, session: botocore.session.Session | None = None) -> None:
        self._session = session or botocore.session.get_session()

    @cached_property
    def dynamodb(self) -> DynamoDBClient:
        client = self._session.create_client("dynamodb", config=_TABLE_CONFIG)
        # botocore has no public way to choose a client's serializer; the attribute is read on every call.
        client._serializer = PlainJsonBatchWrites(client._serializer)  # type: ignore[attr-defined]
        return cast("DynamoDBClient", client)

    @cached_property
    def s3(self) -> S3Client:
        return cast("S3Client", self._session.create_client("s3", config=_CONFIG))

    @cached_property
    def sns(self) -> SNSClient:
        return cast("SNSClient", self._session.create_client("sns", config=_CONFIG))

    @cached_property
    def secretsmanager(self) -> SecretsManagerClient:
        return cast("SecretsManagerClient", self._session.create_client("secretsmanager", config=_CONFIG))
