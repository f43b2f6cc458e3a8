"""AWS clients, created on first use (never at import time, so tests and mocks see them) and injectable."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_s3.client import S3Client
    from mypy_boto3_sns.client import SNSClient

# Our own retry loop handles throttled batch writes with jitter; the SDK's adaptive mode covers the rest.
_CONFIG = Config(retries={"mode": "adaptive", "max_attempts": 5}, connect_timeout=2, read_timeout=5)


class AwsClients:
    @cached_property
    def dynamodb(self) -> DynamoDBClient:
        return boto3.client("dynamodb", config=_CONFIG)

    @cached_property
    def s3(self) -> S3Client:
        return boto3.client("s3", config=_CONFIG)

    @cached_property
    def sns(self) -> SNSClient:
        return boto3.client("sns", config=_CONFIG)
