"""A stage's landing places on moto for the steps that put readings and look where they landed (the smoke test, the
fault injection step): the variables the pipeline would pass for them, and the step's put patched so that what is put
lands, but for the indices listed in ``stage["lose"]``."""

from __future__ import annotations

import dataclasses
from types import ModuleType
from typing import Any

import boto3
import pytest

from tools.landing.producers import put_records as real_put_records
from tools.landing.testing import create_landing, land


def landing_stage(step: ModuleType, monkeypatch: pytest.MonkeyPatch, *, role: str) -> dict[str, Any]:
    """``stage["environment"]``: the variables; ``stage["sent"]``: what the step's last put sent."""
    landing = create_landing(region="eu-west-1")
    boto3.client("kinesis").create_stream(StreamName=landing.stream_name, ShardCount=2)
    boto3.client("s3").create_bucket(Bucket="raw", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    inbox = boto3.client("sqs").create_queue(QueueName="alert-inbox")["QueueUrl"]
    targets = dataclasses.replace(landing, archive_bucket="raw", alert_inbox_url=inbox)
    state: dict[str, Any] = {"lose": frozenset(), "sent": []}

    def put_then_land(kinesis: Any, stream_name: str, records: Any, **options: Any) -> Any:
        sent = real_put_records(kinesis, stream_name, records, **{**options, "progress": False})
        land(targets, sent, skip=state["lose"])
        state["sent"] = sent
        return sent

    monkeypatch.setattr(step, "put_records", put_then_land)
    state["environment"] = {
        "INGEST_SMOKETESTROLEARN": role,
        "INGEST_STREAMNAME": targets.stream_name,
        "INGEST_TABLENAME": targets.table_name,
        "INGEST_PROCESSEDBUCKETNAME": targets.processed_bucket,
        "INGEST_FAILUREBUCKETNAME": targets.failure_bucket,
        "INGEST_ALERTINBOXURL": inbox,
        "ARCHIVE_RAWBUCKETNAME": "raw",
    }
    return state
