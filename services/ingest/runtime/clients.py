"""AWS clients, created on first use (never at import time, so tests and mocks see them) and injectable.

Made with botocore alone: importing boto3 also imports s3transfer and its resource layer, about a third of the
handler's cold import, for nothing the processor uses.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, cast

import botocore.session
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_s3.client import S3Client
    from mypy_boto3_sns.client import SNSClient

# Our own retry loop handles throttled batch writes with jitter; the SDK's adaptive mode covers the rest.
_CONFIG = Config(retries={"mode": "adaptive", "max_attempts": 5}, connect_timeout=2, read_timeout=5)
# The table's writes are the hot path: about a third of the SDK's CPU went to re-checking, field by field, request
# shapes our own code guarantees (table.item_for builds and checks each item). A malformed request still fails,
# at the service, as a ValidationException the table adapter isolates to its item.
_TABLE_CONFIG = _CONFIG.merge(Config(parameter_validation=False))


class AwsClients:
    def __init__(self, session: botocore.session.Session | None = None) -> None:
        self._session = session or botocore.session.get_session()

    @cached_property
    def dynamodb(self) -> DynamoDBClient:
        return cast("DynamoDBClient", self._session.create_client("dynamodb", config=_TABLE_CONFIG))

    @cached_property
    def s3(self) -> S3Client:
        return cast("S3Client", self._session.create_client("s3", config=_CONFIG))

    @cached_property
    def sns(self) -> SNSClient:
        return cast("SNSClient", self._session.create_client("sns", config=_CONFIG))
