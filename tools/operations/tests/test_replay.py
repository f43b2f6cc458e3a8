"""The replay CLI against moto: archive -> stream, failure destination -> stream, dry run, malformed input."""

from __future__ import annotations

import gzip
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from services.iot_archive import contract as archive
from shared.synthetic.readings import SyntheticRecord
from tools.common.testing import documented_help, printed_help
from tools.operations import replay
from tools.operations.replay import Problem, Summary, archive_records, main, partition_hours
from tools.operations.tests.stage import (
    ARCHIVE_ARGS,
    END,
    FAILURE_ARGS,
    FAILURES,
    RAW,
    SHARD,
    START,
    STREAM,
    Aws,
    all_objects,
    at,
    epoch_ms,
    failure_document,
    put_archive_object,
    reading,
    stream_records,
)

# --- archive -> stream -----------------------------------------------------------------------------------------------


def test_archive_window_is_replayed_exactly_and_nothing_outside_it(
    aws: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    before = reading("early", "2026-11-27T12:59:59.999Z")  # hour 12 is not even read
    just_before = reading("at-13", "2026-11-27T13:00:00Z")  # read (hour 13) but before --start
    first = reading("boiler-1", "2026-11-27T13:15:00Z")  # --start is included
    compact = b'{"sensor_id":"pump-7","sensor_type":"vibration","value":1.25,"timestamp":%d}' % epoch_ms(
        "2026-11-27T13:40:00.250Z"
    )
    later = reading("boiler-1", "2026-11-27T13:59:00.000+00:00", reading_id="boiler-1:42")
    last = reading("fan-3", "2026-11-27T14:29:59.999Z")
    at_end = reading("fan-3", "2026-11-27T14:30:00Z")  # --end is excluded
    after = reading("late", "2026-11-27T15:05:00Z")
    put_archive_object(aws, "2026-11-27T12:00Z", "a", [before])
    put_archive_object(aws, "2026-11-27T13:00Z", "a", [just_before, first, compact])
    put_archive_object(aws, "2026-11-27T13:00Z", "b", [later])
    put_archive_object(aws, "2026-11-27T14:00Z", "a", [last, at_end])
    put_archive_object(aws, "2026-11-27T15:00Z", "a", [after])

    assert main(ARCHIVE_ARGS) == 0

    assert stream_records(aws) == [(first, "boiler-1"), (compact, "pump-7"), (later, "boiler-1"), (last, "fan-3")]
    out = capsys.readouterr().out
    assert "objects read                   3" in out
    assert "readings found                 4" in out
    assert "outside the window             2" in out
    assert "malformed skipped              0" in out
    assert "put                            4" in out


def test_margin_hours_finds_readings_filed_under_their_local_hour(aws: Aws) -> None:
    """Firehose partitions "15:20+01:00" under hour=15 (the string's hour), though it is 14:20 UTC."""
    local = reading("boiler-9", "2026-11-27T15:20:00+01:00")
    put_archive_object(aws, "2026-11-27T15:00Z", "a", [local])

    assert main(ARCHIVE_ARGS) == 0
    assert stream_records(aws) == []
    assert main([*ARCHIVE_ARGS, "--margin-hours", "1"]) == 0
    assert stream_records(aws) == [(local, "boiler-9")]


def test_partition_hours_cover_the_window_and_no_more() -> None:
    hours = partition_hours(at(START), at(END))
    assert hours == [at("2026-11-27T13:00Z"), at("2026-11-27T14:00Z")]
    assert partition_hours(at("2026-11-27T13:00Z"), at("2026-11-27T14:00Z")) == [at("2026-11-27T13:00Z")]
    assert partition_hours(at("2026-11-27T13:00Z"), at("2026-11-27T14:00Z"), margin_hours=1) == [
        at("2026-11-27T12:00Z"),
        at("2026-11-27T13:00Z"),
        at("2026-11-27T14:00Z"),
    ]
    # Offsets on the command line are converted: 14:15+01:00 is 13:15 UTC.
    assert partition_hours(at("2026-11-27T14:15:00+01:00"), at("2026-11-27T15:00:00+01:00")) == [
        at("2026-11-27T13:00Z")
    ]
    assert archive.partition_prefix(at("2026-01-02T03:00Z")) == "readings/year=2026/month=01/day=02/hour=03/"


def test_malformed_archive_lines_are_reported_and_skipped(aws: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    good = reading("boiler-1", "2026-11-27T13:20:00Z")
    also_good = reading("boiler-2", epoch_ms("2026-11-27T13:21:00Z"))
    lines = [
        good,
        b'{"sensor_id": "boiler-1", "value": ',  # truncated: not JSON
        b'{"sensor_id": "boiler-1", "value": 3}',  # no timestamp
        b'["not", "an", "object"]',
        b'{"sensor_id": "boiler-1", "timestamp": "yesterday"}',
        b'{"sensor_id": "boiler-1", "timestamp": "2026-11-27T13:20:00"}',  # no offset
        b'{"sensor_id": "\xff\xfe"}',  # not UTF-8
        also_good,
    ]
    key = put_archive_object(aws, "2026-11-27T13:00Z", "a", lines)

    assert main(ARCHIVE_ARGS) == 0  # bad input was quarantined the first time: reported, not an error

    assert stream_records(aws) == [(good, "boiler-1"), (also_good, "boiler-2")]
    out = capsys.readouterr().out
    assert "malformed skipped              6" in out
    for number in range(2, 8):
        assert f"malformed: {key} line {number}: " in out
    assert f"malformed: {key} line 2: not JSON (" in out
    assert f"malformed: {key} line 3: no timestamp" in out
    assert f"malformed: {key} line 4: not a JSON object but list" in out
    assert f"malformed: {key} line 6: timestamp '2026-11-27T13:20:00' has no UTC offset" in out
    assert f"malformed: {key} line 7: not UTF-8" in out


def test_a_malformed_line_is_quoted_no_further_than_200_characters(
    aws: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    """An operator's terminal and CI logs get what is wrong with a line, never the device's whole payload."""
    marker = "PAYLOAD-" + "z" * 500
    lines = [
        json.dumps({"sensor_id": "boiler-1", "timestamp": marker}).encode(),
        f'{{"sensor_id": "{marker}", "value": '.encode(),
        json.dumps({"sensor_id": marker, "value": 3}).encode(),
    ]
    put_archive_object(aws, "2026-11-27T13:00Z", "a", lines)
    assert main(ARCHIVE_ARGS) == 0
    captured = capsys.readouterr()
    written = captured.out + captured.err
    assert "malformed skipped              3" in written
    assert marker[:150] in written  # the start of the offending value, to recognise it by
    assert marker[:201] not in written


def test_unreadable_object_is_reported_and_the_run_goes_on(aws: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    good = reading("boiler-1", "2026-11-27T13:20:00Z")
    broken = archive.partition_prefix(at("2026-11-27T13:00Z")) + "iot-dev-archive-delivery-1-a.gz"
    aws.s3.put_object(Bucket=RAW, Key=broken, Body=gzip.compress(good * 50)[:-10])  # cut short
    put_archive_object(aws, "2026-11-27T13:00Z", "b", [good])

    assert main(ARCHIVE_ARGS) == 1  # readings may be in the broken object: the operator must look

    assert stream_records(aws) == [(good, "boiler-1")]
    out = capsys.readouterr().out
    assert f"unreadable: {broken}: not a readable gzip object" in out
    assert "put                            1" in out


def test_archive_records_returns_problems_with_key_and_line(aws: Aws) -> None:
    key = put_archive_object(aws, "2026-11-27T13:00Z", "a", [b"{", reading("s", "2026-11-27T13:20:00Z")])
    summary = Summary(source="test")
    records = list(archive_records(aws.s3, RAW, at(START), at(END), summary))
    assert [r.partition_key for r in records] == ["s"]
    assert [(p.key, p.where) for p in summary.malformed] == [(key, "line 1")]
    assert (summary.objects_read, summary.readings_found, summary.per_object) == (1, 1, {key: 1})


# --- failure destination -> stream -----------------------------------------------------------------------------------


def test_failed_batches_are_replayed_with_their_partition_keys(aws: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    first_batch = [(reading("boiler-1", "2026-11-27T13:20:00Z"), "boiler-1"), (b"\xff\xfe not utf-8", "pk-2")]
    second_batch = [(reading("pump-7", epoch_ms("2026-11-27T13:21:00Z")), "pump-7")]
    for index, batch in enumerate((first_batch, second_batch)):
        key = f"aws/lambda/esm-uuid/{SHARD}/2026/11/27/13/batch-{index}"
        aws.s3.put_object(Bucket=FAILURES, Key=key, Body=json.dumps(failure_document(batch)).encode())

    assert main(FAILURE_ARGS) == 0

    # Every record comes back, valid or not: the processor decides again (it quarantines what it must).
    assert stream_records(aws) == first_batch + second_batch
    out = capsys.readouterr().out
    assert "objects read                   2" in out
    assert "readings found                 3" in out
    assert "put                            3" in out


@pytest.mark.timeout(120)  # a thousand and one objects put into moto: seconds on a busy machine
def test_failure_objects_beyond_the_first_page_of_the_listing_are_replayed(
    aws: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    """S3 lists at most 1,000 keys a page; a bad day leaves more failed batches than that."""
    for index in range(1_001):
        batch = [(reading(f"sensor-{index}", "2026-11-27T13:20:00Z"), f"sensor-{index}")]
        key = f"aws/lambda/esm-uuid/{SHARD}/2026/11/27/13/batch-{index:04d}"
        aws.s3.put_object(Bucket=FAILURES, Key=key, Body=json.dumps(failure_document(batch)).encode())
    assert main(FAILURE_ARGS) == 0
    assert len(stream_records(aws)) == 1_001
    assert "objects read                1001" in capsys.readouterr().out


def test_since_leaves_older_failure_objects_alone(aws: Aws) -> None:
    batch = [(reading("boiler-1", "2026-11-27T13:20:00Z"), "boiler-1")]
    aws.s3.put_object(Bucket=FAILURES, Key="old", Body=json.dumps(failure_document(batch)).encode())
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    earlier = (datetime.now(UTC) - timedelta(hours=1)).isoformat()

    assert main([*FAILURE_ARGS, "--since", later]) == 0
    assert stream_records(aws) == []
    assert main([*FAILURE_ARGS, "--since", earlier]) == 0
    assert stream_records(aws) == batch


def test_undecodable_failure_objects_and_records_are_reported(aws: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    good = (reading("boiler-1", "2026-11-27T13:20:00Z"), "boiler-1")
    document = failure_document([good, good])
    event = json.loads(document["payload"])
    event["Records"][0]["kinesis"]["data"] = "not base64!"
    document["payload"] = json.dumps(event)
    aws.s3.put_object(Bucket=FAILURES, Key="a-batch", Body=json.dumps(document).encode())
    aws.s3.put_object(Bucket=FAILURES, Key="b-no-payload", Body=b'{"KinesisBatchInfo": {}}')

    assert main(FAILURE_ARGS) == 1  # a whole object could not be replayed

    assert stream_records(aws) == [good]
    out = capsys.readouterr().out
    assert "malformed: a-batch record 1: undecodable" in out
    assert "unreadable: b-no-payload: not an on-failure record with a payload" in out


# --- dry run, rate, targets ------------------------------------------------------------------------------------------


def test_dry_run_changes_nothing(aws: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    archived = put_archive_object(
        aws, "2026-11-27T13:00Z", "a", [reading("a", "2026-11-27T13:20:00Z"), reading("b", "2026-11-27T13:21:00Z")]
    )
    failed = [(reading("c", "2026-11-27T13:20:00Z"), "c")]
    aws.s3.put_object(Bucket=FAILURES, Key="batch", Body=json.dumps(failure_document(failed)).encode())
    objects = all_objects(aws)

    assert main([*ARCHIVE_ARGS, "--dry-run"]) == 0
    assert main([*FAILURE_ARGS, "--dry-run"]) == 0

    assert stream_records(aws) == []
    assert all_objects(aws) == objects
    out = capsys.readouterr().out
    assert f"would put        2 from s3://{RAW}/{archived}" in out
    assert f"would put        1 from s3://{FAILURES}/batch" in out
    assert out.count("put                            0   (dry run: nothing put)") == 2


def test_the_summary_holds_the_last_sequence_number_put_to_each_shard(aws: Aws) -> None:
    """What a caller waits for the processor to read past (the restore drill's rebuild)."""
    aws.kinesis.create_stream(StreamName="two-shards", ShardCount=2)
    lines = [reading(f"sensor-{i}", "2026-11-27T13:20:00Z") for i in range(40)]
    put_archive_object(aws, "2026-11-27T13:00Z", "a", lines)
    summary = Summary(source="archive")
    records = archive_records(aws.s3, RAW, at(START), at(END), summary)
    replay.replay(aws.kinesis, "two-shards", records, summary, progress=False)
    last = {}
    for shard in aws.kinesis.list_shards(StreamName="two-shards")["Shards"]:
        iterator = aws.kinesis.get_shard_iterator(
            StreamName="two-shards", ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        numbers = [int(r["SequenceNumber"]) for r in aws.kinesis.get_records(ShardIterator=iterator)["Records"]]
        if numbers:
            last[shard["ShardId"]] = max(numbers)
    assert len(last) == 2  # forty sensors spread over both shards
    assert summary.through == last
    dry = Summary(source="archive")
    replay.replay(aws.kinesis, "two-shards", archive_records(aws.s3, RAW, at(START), at(END), dry), dry, dry_run=True)
    assert dry.through == {}


def test_rate_is_passed_to_put_records_chunk_by_chunk(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[int, float | None]] = []

    def spy(kinesis: Any, stream_name: str, records: Sequence[SyntheticRecord], **kwargs: Any) -> list[Any]:
        assert stream_name == STREAM
        calls.append((len(records), kwargs["rate"]))
        return []

    monkeypatch.setattr(replay, "put_records", spy)
    monkeypatch.setattr(replay, "PUT_CHUNK", 2)
    lines = [reading(f"s{i}", "2026-11-27T13:20:00Z") for i in range(5)]
    put_archive_object(aws, "2026-11-27T13:00Z", "a", lines)

    assert main([*ARCHIVE_ARGS, "--rate", "250"]) == 0
    assert calls == [(2, 250.0), (2, 250.0), (1, 250.0)]


def test_stage_targets_come_from_the_stack_outputs(aws: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    cloudformation = boto3.client("cloudformation")
    outputs = {
        "iot-dev-ingest": {
            "StreamName": STREAM,
            "TableName": "readings-table",
            "ProcessedBucketName": "processed",
            "FailureBucketName": FAILURES,
        },
        "iot-dev-archive": {"RawBucketName": RAW},
    }
    for stack, values in outputs.items():
        template = {
            "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
            "Outputs": {name: {"Value": value} for name, value in values.items()},
        }
        cloudformation.create_stack(StackName=stack, TemplateBody=json.dumps(template))
    put_archive_object(aws, "2026-11-27T13:00Z", "a", [reading("a", "2026-11-27T13:20:00Z")])
    failed = [(reading("c", "2026-11-27T13:20:00Z"), "c")]
    aws.s3.put_object(Bucket=FAILURES, Key="batch", Body=json.dumps(failure_document(failed)).encode())

    assert main(["--stage", "dev", "--from-archive", "--start", START, "--end", END, "--dry-run"]) == 0
    assert main(["--stage", "dev", "--from-failures", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"source                s3://{RAW}/readings/ [2026-11-27T13:15:00Z, 2026-11-27T14:30:00Z)" in out
    assert f"would put        1 from s3://{FAILURES}/batch" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--from-archive", "--start", END, "--end", START],
            "--start (2026-11-27T14:30:00+00:00) must be before --end",
        ),
        (["--from-archive", "--start", START, "--end", START], "must be before --end"),
        (["--from-archive", "--start", "2026-11-27T13:00:00", "--end", END], "has no UTC offset"),
        (["--from-archive", "--start", "yesterday", "--end", END], "is not an ISO-8601 time"),
        (["--from-archive", "--start", START], "--from-archive needs --start and --end"),
        (["--from-archive", "--start", START, "--end", END, "--rate", "0"], "greater than 0"),
        (["--from-archive", "--start", START, "--end", END, "--rate", "-5"], "greater than 0"),
        (["--from-archive", "--start", START, "--end", END, "--rate", "fast"], "must be a number, got 'fast'"),
        (["--from-archive", "--start", START, "--end", END, "--margin-hours", "15"], "between 0 and 14"),
        (["--from-archive", "--start", START, "--end", END, "--since", START], "--since goes with --from-failures"),
        (["--from-failures", "--start", START], "go with --from-archive"),
        (["--from-failures", "--from-archive"], "not allowed with argument"),
        ([], "one of the arguments --from-archive --from-failures is required"),
    ],
)
def test_bad_arguments_are_rejected_with_a_clear_message(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--stream-name", STREAM, "--archive-bucket", RAW, "--failure-bucket", FAILURES, *argv])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--from-archive", "--start", START, "--end", END], "one of the arguments --stage --stream-name is required"),
        (["--stream-name", STREAM, "--from-failures"], "--from-failures with --stream-name needs --failure-bucket"),
        (["--stream-name", STREAM, *ARCHIVE_ARGS[4:]], "--from-archive with --stream-name needs --archive-bucket"),
        (["--stage", "dev", "--failure-bucket", FAILURES, "--from-failures"], "name them only with --stream-name"),
    ],
)
def test_targets_must_be_complete(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_help_says_why_replaying_is_safe(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "Replaying is safe: the processor's writes are idempotent" in text
    for option in ("--from-archive", "--from-failures", "--dry-run", "--rate", "--since", "--role-arn"):
        assert option in text


def test_problem_names_object_and_position() -> None:
    assert str(Problem("k", "line 3", "no timestamp")) == "k line 3: no timestamp"
    assert str(Problem("k", None, "could not be read (AccessDenied)")) == "k: could not be read (AccessDenied)"


def test_the_help_is_what_docs_command_lines_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    assert printed_help(main, monkeypatch) == documented_help("tools.operations.replay")
