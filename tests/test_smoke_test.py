"""The smoke test's checks on moto: a complete landing passes; anything missing or wrong fails, named precisely."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Final

import boto3
import pytest
from moto import mock_aws

from services.iot_processor.runtime.objects import StreamPosition, quarantine_key
from services.iot_processor.runtime.table import StoredReading, item_for
from shared.readings.anomalies import DEFAULT_ANOMALY_BOUNDS, severity_of
from shared.readings.generator import synthetic_records
from shared.readings.schema import InvalidReadingError, parse_reading
from tools.processor_fixtures import create_processor_resources
from tools.smoke_test import Checks, Sent, Targets, locate, put_records, report

REGION: Final = "eu-west-1"


@pytest.fixture
def targets(monkeypatch: pytest.MonkeyPatch) -> Iterator[Targets]:
    for name, value in {"AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        resources = create_processor_resources(region=REGION)
        boto3.client("kinesis").create_stream(StreamName="readings", ShardCount=2)
        boto3.client("s3").create_bucket(Bucket="failures", CreateBucketConfiguration={"LocationConstraint": REGION})
        yield Targets(
            stream_name="readings",
            table_name=resources.table_name,
            processed_bucket=resources.bucket,
            failure_bucket="failures",
            archive_bucket=None,
        )


def _sent(targets: Targets) -> list[Sent]:
    records = synthetic_records(60, run_id="unit", now=datetime.now(UTC), anomaly_share=0.1, invalid_share=0.1)
    return put_records(boto3.client("kinesis"), targets.stream_name, records, progress=False)


def _land(targets: Targets, sent: list[Sent], *, skip: int | None = None, wrong_reason: int | None = None) -> None:
    """Write what the processor would have written for each record (except ``skip``)."""
    dynamodb, s3 = boto3.client("dynamodb"), boto3.client("s3")
    for index, item in enumerate(sent):
        if index == skip:
            continue
        now = datetime.fromtimestamp(item.put_at, tz=UTC)
        try:
            reading = parse_reading(item.record.data, now=now)
        except InvalidReadingError as problem:
            position = StreamPosition(
                shard_id=item.shard_id, sequence_number=item.sequence_number, partition_key="", arrival=now
            )
            reason = "not_json" if index == wrong_reason else str(problem.reason)
            s3.put_object(
                Bucket=targets.processed_bucket,
                Key=quarantine_key(position),
                Body=json.dumps({"reason": reason}).encode(),
            )
            continue
        stored = StoredReading(reading=reading, severity=severity_of(reading, DEFAULT_ANOMALY_BOUNDS))
        dynamodb.put_item(TableName=targets.table_name, Item=item_for(stored, ttl_days=1, index_shards=4))


def test_a_complete_landing_passes(targets: Targets) -> None:
    sent = _sent(targets)
    _land(targets, sent)
    text, ok = report(sent, locate(boto3.Session(), targets, sent, checks=Checks()), checks=Checks())
    assert ok, text
    assert "in readings table                 54" in text
    assert "in quarantine                      6" in text


def test_a_missing_reading_is_named_with_where_it_is_missing(targets: Targets) -> None:
    sent = _sent(targets)
    skipped = next(i for i, s in enumerate(sent) if s.record.reading_id)
    _land(targets, sent, skip=skipped)
    text, ok = report(sent, locate(boto3.Session(), targets, sent, checks=Checks()), checks=Checks())
    assert not ok
    assert f"missing from table: reading {sent[skipped].record.reading_id}" in text


def test_a_wrong_quarantine_reason_fails(targets: Targets) -> None:
    sent = _sent(targets)
    wrong = next(i for i, s in enumerate(sent) if s.record.invalid_reason and s.record.invalid_reason != "not_json")
    _land(targets, sent, wrong_reason=wrong)
    text, ok = report(sent, locate(boto3.Session(), targets, sent, checks=Checks()), checks=Checks())
    assert not ok
    assert f"quarantined for not_json, expected {sent[wrong].record.invalid_reason}" in text


def test_a_batch_in_the_failure_destination_accounts_for_its_records(targets: Targets) -> None:
    sent = _sent(targets)
    lost = next(i for i, s in enumerate(sent) if s.record.reading_id)
    _land(targets, sent, skip=lost)
    info = {
        "shardId": sent[lost].shard_id,
        "startSequenceNumber": sent[lost].sequence_number,
        "endSequenceNumber": sent[lost].sequence_number,
    }
    boto3.client("s3").put_object(
        Bucket=targets.failure_bucket, Key="aws/lambda/batch", Body=json.dumps({"KinesisBatchInfo": info}).encode()
    )
    landing = locate(boto3.Session(), targets, sent, checks=Checks())
    text, ok = report(sent, landing, checks=Checks())
    assert ok, text
    assert landing.places[lost] == {"failure destination"}


def test_the_archive_check_needs_the_archive_bucket(targets: Targets) -> None:
    sent = _sent(targets)
    with pytest.raises(SystemExit, match="RawBucketName"):
        locate(boto3.Session(), targets, sent, checks=Checks(archive=True))
