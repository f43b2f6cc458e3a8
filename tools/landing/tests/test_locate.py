"""The smoke test's checks on moto: a complete landing passes; anything missing or wrong fails, named precisely."""

from __future__ import annotations

import base64
import dataclasses
import gzip
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Final

import boto3
import pytest
from moto import mock_aws

from services.iot_archive import contract as archive
from services.iot_processor.contract import SORT_KEY
from shared.readings.schema import Reason
from shared.synthetic.readings import SyntheticRecord, synthetic_records
from tools.landing import locate as locate_module
from tools.landing.locate import AlertInbox, Checks, archive_partition, duplicated_in_table, locate, stored_items
from tools.landing.producers import Sent, put_records
from tools.landing.report import report
from tools.landing.targets import MissingOutputError, Targets
from tools.landing.testing import create_landing, land

REGION: Final = "eu-west-1"


@pytest.fixture
def targets(monkeypatch: pytest.MonkeyPatch) -> Iterator[Targets]:
    for name, value in {"AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        targets = create_landing(region=REGION)
        boto3.client("kinesis").create_stream(StreamName=targets.stream_name, ShardCount=2)
        yield targets


def _sent(targets: Targets) -> list[Sent]:
    records = synthetic_records(60, run_id="unit", now=datetime.now(UTC), anomaly_share=0.1, invalid_share=0.1)
    return put_records(boto3.client("kinesis"), targets.stream_name, records, progress=False)


def _land(targets: Targets, sent: list[Sent], *, skip: int | None = None, wrong_reason: int | None = None) -> None:
    """The table and the quarantine as the processor would leave them (no archive or alerts unless targeted)."""
    land(targets, sent, skip=frozenset() if skip is None else frozenset({skip}), wrong_reason=wrong_reason)


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


def test_a_reading_stored_under_a_second_key_is_named_as_stored_twice(targets: Targets) -> None:
    sent = _sent(targets)
    _land(targets, sent)
    dynamodb = boto3.client("dynamodb")
    assert duplicated_in_table(dynamodb, targets.table_name, sent) == {}
    twice = next(s for s in sent if s.record.reading_id)
    (item,) = [
        found
        for found in dynamodb.scan(TableName=targets.table_name)["Items"]
        if found["reading_id"]["S"] == twice.record.reading_id
    ]
    dynamodb.put_item(TableName=targets.table_name, Item={**item, SORT_KEY: {"S": item[SORT_KEY]["S"] + "-again"}})
    assert duplicated_in_table(dynamodb, targets.table_name, sent) == {twice.record.reading_id: 2}
    assert duplicated_in_table(dynamodb, targets.table_name, [s for s in sent if s is not twice]) == {}


def test_the_archive_check_needs_the_archive_bucket(targets: Targets) -> None:
    sent = _sent(targets)
    with pytest.raises(MissingOutputError, match="RawBucketName"):
        locate(boto3.Session(), targets, sent, checks=Checks(archive=True))


# --- the raw archive: each record in the partition of its own event time -----------------------------------------


@pytest.mark.parametrize(
    ("timestamp", "partition"),
    [
        ("2026-11-30T07:59:59.999Z", "readings/year=2026/month=11/day=30/hour=07/"),
        ("2026-11-30T00:20:00+01:00", "readings/year=2026/month=11/day=29/hour=23/"),  # the offset is applied
        (1_796_025_600_000, "readings/year=2026/month=11/day=30/hour=08/"),  # epoch milliseconds
        ("2026-11-30 07:00:00", None),  # no zone: Firehose cannot partition it
        ("yesterday", None),
        (None, None),
    ],
)
def test_archive_partition_follows_the_event_time_like_firehose(timestamp: Any, partition: str | None) -> None:
    assert archive_partition(json.dumps({"timestamp": timestamp}).encode()) == partition


def test_a_record_that_is_not_json_has_no_partition() -> None:
    assert archive_partition(b"not json") is None


def _archive(bucket: str, key: str, sent: list[Sent]) -> None:
    body = b"\n".join(s.record.data for s in sent)
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=gzip.compress(body))


def test_archived_records_are_found_only_in_their_own_partition(targets: Targets) -> None:
    boto3.client("s3").create_bucket(Bucket="archive", CreateBucketConfiguration={"LocationConstraint": REGION})
    archived = dataclasses.replace(targets, archive_bucket="archive")
    sent = _sent(targets)
    _land(targets, sent)
    misplaced = next(i for i, s in enumerate(sent) if s.record.reading_id)
    for partition in {archive_partition(s.record.data) for s in sent}:
        here = [s for i, s in enumerate(sent) if archive_partition(s.record.data) == partition and i != misplaced]
        _archive("archive", f"{partition or archive.ERROR_PREFIX}part-1.gz", here)
    _archive("archive", "readings/year=1999/month=01/day=01/hour=00/part-1.gz", [sent[misplaced]])
    checks = Checks(archive=True)
    text, ok = report(sent, locate(boto3.Session(), archived, sent, checks=checks), checks=checks)
    assert not ok
    assert f"missing from archive: reading {sent[misplaced].record.reading_id}" in text
    assert f"{'in raw archive':<28}{len(sent) - 1:>8}" in text


# --- alerts, read from the stage's alert inbox -------------------------------------------------------------------


def test_an_anomaly_without_an_alert_is_reported(targets: Targets) -> None:
    sqs = boto3.client("sqs")
    queue_url = sqs.create_queue(QueueName="alert-inbox")["QueueUrl"]
    sent = _sent(targets)
    _land(targets, sent)
    anomalies = [s for s in sent if s.record.anomaly]
    assert len(anomalies) >= 2
    for item in anomalies[1:]:
        sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps({"reading_id": item.record.reading_id}))
    checks = Checks(alerts=AlertInbox(sqs, queue_url))
    text, ok = report(sent, locate(boto3.Session(), targets, sent, checks=checks), checks=checks)
    assert not ok
    assert f"missing from alert: reading {anomalies[0].record.reading_id}" in text
    assert f"{'  alerted':<28}{len(anomalies) - 1:>8}" in text


def test_targets_from_the_pipeline_environment_include_the_alert_inbox() -> None:
    environment = {
        "INGEST_STREAMNAME": "s",
        "INGEST_TABLENAME": "t",
        "INGEST_PROCESSEDBUCKETNAME": "p",
        "INGEST_FAILUREBUCKETNAME": "f",
        "INGEST_ALERTINBOXURL": "https://sqs/inbox",
        "ARCHIVE_RAWBUCKETNAME": "raw",
    }
    targets = Targets.from_environment(environment)
    assert (targets.alert_inbox_url, targets.archive_bucket) == ("https://sqs/inbox", "raw")
    with pytest.raises(MissingOutputError, match="TableName"):
        Targets.from_environment({**environment, "INGEST_TABLENAME": ""})


def test_keys_the_table_leaves_unprocessed_are_asked_for_again() -> None:
    table, first, second = "readings", {"sensor_id": {"S": "a"}}, {"sensor_id": {"S": "b"}}
    answers: Iterator[dict[str, Any]] = iter(
        [
            {"Responses": {table: [first]}, "UnprocessedKeys": {table: {"Keys": ["rest"]}}},
            {"Responses": {table: [second]}, "UnprocessedKeys": {}},
        ]
    )
    asked: list[dict[str, Any]] = []

    class Table:
        def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:  # noqa: N803 - the SDK's name
            asked.append(RequestItems)
            return next(answers)

    assert stored_items(Table(), table, [("a", "t1"), ("b", "t2")]) == [first, second]
    assert asked[1] == {table: {"Keys": ["rest"]}}
    assert [key["sensor_id"]["S"] for key in asked[0][table]["Keys"]] == ["a", "b"]


# --- listings longer than a page --------------------------------------------------------------------------------


@pytest.mark.timeout(120)  # a thousand and one objects put into moto: seconds on a busy machine
def test_a_record_quarantined_beyond_the_first_page_of_the_listing_is_found(targets: Targets) -> None:
    """S3 lists at most 1,000 keys a page: the quarantine of a busy day holds more."""
    sent = _sent(targets)
    _land(targets, sent)
    s3 = boto3.client("s3")
    day = datetime.fromtimestamp(sent[0].put_at, tz=UTC)
    shard = sent[0].shard_id
    for number in range(
        1_000
    ):  # other records' quarantine documents, listed before this run's (lower sequence numbers)
        s3.put_object(
            Bucket=targets.processed_bucket,
            Key=f"quarantine/{day:%Y/%m/%d}/{shard}/0{number:04d}.json",
            Body=b'{"reason": "not_json"}',
        )
    landing = locate(boto3.Session(), targets, sent, checks=Checks())
    invalid = [i for i, s in enumerate(sent) if s.record.invalid_reason]
    assert invalid
    assert all(landing.places.get(i) == {"quarantine"} for i in invalid)


def test_every_alert_is_read_however_many_the_inbox_holds(targets: Targets) -> None:
    """SQS hands out at most ten messages a call: the inbox is read until it is empty, each message counted once."""
    sqs = boto3.client("sqs")
    queue_url = sqs.create_queue(QueueName="busy-inbox")["QueueUrl"]
    for number in range(25):
        sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps({"reading_id": f"r-{number % 20}"}))
    inbox = AlertInbox(sqs, queue_url)
    inbox.collect()
    assert sum(inbox.reading_ids.values()) == 25
    assert inbox.reading_ids["r-3"] == 2
    assert inbox.reading_ids["r-19"] == 1
    inbox.collect()  # deleted once read: nothing is counted twice
    assert sum(inbox.reading_ids.values()) == 25


def test_records_firehose_could_not_partition_are_found_under_the_error_prefix(targets: Targets) -> None:
    """Firehose wraps each such record as an error record (its bytes in rawData, base64): one that carries a reading id
    (here a time without a zone) is matched by that id, anything else (not JSON, not UTF-8) by its exact bytes."""
    boto3.client("s3").create_bucket(Bucket="archive", CreateBucketConfiguration={"LocationConstraint": REGION})
    archived = dataclasses.replace(targets, archive_bucket="archive")
    zoneless = json.dumps({"reading_id": "rid-zoneless", "sensor_id": "s-1", "timestamp": "2026-12-06 07:00:00"})
    record = SyntheticRecord(
        data=zoneless.encode(),
        partition_key="s-1",
        reading_id="rid-zoneless",
        sensor_id="s-1",
        invalid_reason=Reason.MISSING_FIELD,
    )
    sent = [
        *_sent(targets),
        Sent(record=record, shard_id="shardId-000000000000", sequence_number="1", put_at=time.time()),
    ]
    unpartitioned = [i for i, s in enumerate(sent) if archive_partition(s.record.data) is None]
    assert len(unpartitioned) >= 3
    for partition in {archive_partition(s.record.data) for s in sent} - {None}:
        _archive("archive", f"{partition}part-1.gz", [s for s in sent if archive_partition(s.record.data) == partition])
    lost = next(i for i in unpartitioned if not sent[i].record.reading_id)
    raw = [base64.b64encode(sent[i].record.data).decode() for i in unpartitioned if i != lost]
    lines = [json.dumps({"errorCode": "DynamicPartitioning.MetadataExtractionFailed", "rawData": data}) for data in raw]
    key = f"{archive.ERROR_PREFIX}DynamicPartitioning.MetadataExtractionFailed/2026/12/06/part-1.gz"
    boto3.client("s3").put_object(Bucket="archive", Key=key, Body=gzip.compress("\n".join(lines).encode()))
    landing = locate(boto3.Session(), archived, sent, checks=Checks(archive=True))
    assert [i for i in unpartitioned if "archive" in landing.places.get(i, set())] == [
        i for i in unpartitioned if i != lost
    ]
    assert "archive" in landing.places[len(sent) - 1]  # the zoneless reading, by its id


def test_a_resent_record_is_matched_once_per_copy_in_the_archive(targets: Targets) -> None:
    """A producer's resend archives the same bytes twice: each copy accounts for one send, not both."""
    boto3.client("s3").create_bucket(Bucket="archive", CreateBucketConfiguration={"LocationConstraint": REGION})
    archived = dataclasses.replace(targets, archive_bucket="archive")
    sent = _sent(targets)
    first = next(s for s in sent if s.record.reading_id and archive_partition(s.record.data))
    twice = [*sent, dataclasses.replace(first, sequence_number=str(int(first.sequence_number) + 10**6))]
    _land(targets, twice)
    partition = archive_partition(first.record.data)
    _archive("archive", f"{partition}part-1.gz", [first])  # archived once only
    landing = locate(boto3.Session(), archived, twice, checks=Checks(archive=True))
    copies = [i for i, s in enumerate(twice) if s.record is first.record]
    assert sum("archive" in landing.places.get(i, set()) for i in copies) == 1


# --- waiting for the landing ----------------------------------------------------------------------------------------


def test_waiting_polls_until_everything_landed_and_no_longer(targets: Targets) -> None:
    """A slow stage: the first two searches find the table still empty, the third finds everything."""
    sent = _sent(targets)
    searches: list[int] = []
    sleeps: list[float] = []

    def land_on_the_third_poll() -> None:
        searches.append(len(searches))
        if len(searches) == 3:
            _land(targets, sent)

    landing = locate_module.wait_for_landing(
        boto3.Session(),
        targets,
        sent,
        checks=Checks(),
        timeout=600,
        poll=7.5,
        before_poll=land_on_the_third_poll,
        sleep=sleeps.append,
    )
    assert not locate_module.missing(sent, landing, checks=Checks())
    assert (len(searches), sleeps) == (3, [7.5, 7.5])


def test_waiting_gives_up_at_the_deadline_with_what_was_found(
    targets: Targets, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent = _sent(targets)
    clock = iter([100.0, 100.0, 105.0, 111.0])  # start; first poll; second poll; third poll, past 100 + 10

    landing = locate_module.wait_for_landing(
        boto3.Session(), targets, sent, checks=Checks(), timeout=10, clock=lambda: next(clock), sleep=lambda _: None
    )
    assert set(locate_module.missing(sent, landing, checks=Checks())) == set(range(len(sent)))
    with pytest.raises(StopIteration):  # exactly three polls: the third was past the deadline
        next(clock)


def test_an_archive_written_without_compression_is_read_as_it_is(targets: Targets) -> None:
    """Firehose gzips only when told to; an uncompressed object has no .gz and is read as plain lines."""
    boto3.client("s3").create_bucket(Bucket="archive", CreateBucketConfiguration={"LocationConstraint": REGION})
    archived = dataclasses.replace(targets, archive_bucket="archive")
    sent = _sent(targets)
    for partition in {archive_partition(s.record.data) for s in sent} - {None}:
        here = [s.record.data for s in sent if archive_partition(s.record.data) == partition]
        boto3.client("s3").put_object(Bucket="archive", Key=f"{partition}part-1", Body=b"\n".join(here))
    landing = locate(boto3.Session(), archived, sent, checks=Checks(archive=True))
    assert all(
        "archive" in landing.places.get(i, set()) for i, s in enumerate(sent) if archive_partition(s.record.data)
    )


@pytest.mark.parametrize("data", [b"[1, 2]", b'"2026-11-30T07:00:00Z"', b"7", b"null"])
def test_json_that_is_not_an_object_has_no_partition(data: bytes) -> None:
    assert archive_partition(data) is None
