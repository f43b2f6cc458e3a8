"""Fixtures of the ingest service's tests: the processor handler running against moto (the synthesized app and
the config come from the root conftest.py)."""

from __future__ import annotations

import os

# Powertools reads these when the handler module is imported, as Lambda sets them before the import.
os.environ.update(
    POWERTOOLS_SERVICE_NAME="processor", POWERTOOLS_METRICS_NAMESPACE="IotPlatform", POWERTOOLS_TRACE_DISABLED="true"
)

import functools
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.loaders import Loader
from moto import mock_aws

from services.iot_processor.runtime import handler
from services.iot_processor.runtime.clients import AwsClients
from services.iot_processor.runtime.settings import encode_bounds
from services.iot_processor.tests.harness import BUCKET, REGION, TABLE, Aws
from services.iot_processor.tests.resources import create_processor_resources
from shared.readings.anomalies import DEFAULT_ANOMALY_BOUNDS


@functools.cache
def _test_session() -> boto3.Session:
    """One session for every test's clients: each new default session reads the service models again (~50 ms a
    client); moto intercepts the clients of any session while a test's mock is active."""
    return boto3.Session(
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # pragma: allowlist secret (moto only)
    )


@functools.cache
def _service_models() -> Loader:
    loader: Loader = botocore.session.Session().get_component("data_loader")
    return loader


def _session_with_loaded_models() -> botocore.session.Session:
    """A new botocore session, as the handler makes one, that reads no service model from disk again."""
    session = botocore.session.Session()
    session.register_component("data_loader", _service_models())
    return session


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    for name, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",  # pragma: allowlist secret (moto only)
        "TABLE_NAME": TABLE,
        "PROCESSED_BUCKET": BUCKET,
        "ANOMALY_BOUNDS": encode_bounds(DEFAULT_ANOMALY_BOUNDS),
        "TTL_DAYS": "7",
        "ANOMALY_TTL_DAYS": "90",
        "ANOMALY_INDEX_SHARDS": "4",
        "POWERTOOLS_SERVICE_NAME": "processor",
        "POWERTOOLS_METRICS_NAMESPACE": "IotPlatform",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("WEBHOOK_SECRET_ARN", raising=False)
    monkeypatch.setattr(botocore.session, "get_session", _session_with_loaded_models)
    with mock_aws():
        session = _test_session()
        resources = create_processor_resources(region=REGION, table_name=TABLE, bucket=BUCKET, session=session)
        dynamodb = session.client("dynamodb")
        s3 = session.client("s3")
        sns = session.client("sns")
        topic_arn = resources.topic_arn
        monkeypatch.setenv("ALERT_TOPIC_ARN", topic_arn)
        sqs = session.client("sqs")
        queue_url = sqs.create_queue(QueueName="alerts-subscriber")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
        build_processor = handler.reading_processor  # tests may monkeypatch the module attribute
        build_processor.cache_clear()
        yield Aws(dynamodb=dynamodb, s3=s3, sns=sns, sqs=sqs, queue_url=queue_url)
        build_processor.cache_clear()


@pytest.fixture
def use_clients(monkeypatch: pytest.MonkeyPatch, aws: Aws) -> Callable[..., None]:
    """Run the handler with some AWS clients replaced (the handler's own wiring, injected clients)."""
    monkeypatch.setattr(time, "sleep", lambda _: None)  # backoff without waiting

    def use(**clients: Any) -> None:
        injected = AwsClients()
        injected.__dict__.update(clients)  # pre-seed the cached properties
        handler.reading_processor.cache_clear()
        processor = handler.reading_processor(injected)
        monkeypatch.setattr(handler, "reading_processor", lambda: processor)

    return use
