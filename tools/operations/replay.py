"""Replay readings into a stage's readings stream, where they take the normal path again (processor, archive).

    python -m tools.operations.replay --stage prod --from-archive \
        --start 2026-11-27T13:00:00Z --end 2026-11-27T14:00:00Z --dry-run
    python -m tools.operations.replay --stage prod --from-failures --since 2026-11-27T00:00:00Z --rate 500

--from-archive reads the raw archive's hourly partitions (readings/year=YYYY/month=MM/day=DD/hour=HH/) that
overlap [--start, --end), and replays each archived line whose own timestamp lies in that window, byte for byte,
keyed by its sensor_id. Lines that are not a JSON reading with a timestamp are reported (object key, line number)
and skipped. --from-failures replays every record of the batches the processor's event source mapping wrote to
its on-failure destination (optionally only objects written since --since), with their original partition keys,
and every MQTT message the topic rule could not put on the stream (the error action's documents under
mqtt-errors/ in the same bucket), keyed by its topic.

Replaying is safe: the processor's writes are idempotent on each reading's business key (sensor, event time,
reading id), so a reading that was already stored overwrites itself, and one the schema rejects is quarantined
again. Run --dry-run first, and keep --rate below the stream's spare write capacity (1,000 records/s per shard
minus live traffic). Replayed readings are archived a second time: count distinct reading_id in the archive.

Targets come from the stage's stack outputs (iot-<stage>-ingest: StreamName, FailureBucketName;
iot-<stage>-archive: RawBucketName), or are named with --stream-name and --archive-bucket / --failure-bucket.
Exits 0 when every reading found was put (malformed lines are reported, not errors), 1 when an object could not
be read or a put failed, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import gzip
import hashlib
import itertools
import json
import sys
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from services.iot_archive import contract as archive
from shared.infra.naming import MQTT_ERROR_PREFIX
from shared.synthetic.readings import SyntheticRecord
from tools.common.arguments import positive_number
from tools.common.aws_session import session_for
from tools.landing.producers import PUT_BATCH, last_put, put_records
from tools.landing.targets import MissingOutputError, Targets

# Readings held in memory between reading S3 and putting them: bounded, so a long window cannot exhaust memory.
# A multiple of put_records' batch, because put_records paces --rate per call in whole batches.
PUT_CHUNK = 100 * PUT_BATCH
MAX_PARTITION_KEY = 256  # Kinesis limit, in Unicode characters
MAX_LISTED_PROBLEMS = 100
MAX_UTC_OFFSET_HOURS = 14
GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class Problem:
    key: str
    where: str | None  # "line 7", "record 3", or None for the whole object
    reason: str

    def __str__(self) -> str:
        return f"{self.key}{f' {self.where}' if self.where else ''}: {self.reason}"


@dataclass
class Summary:
    """What a replay found and did; filled in while the records are read and put."""

    source: str
    objects_read: int = 0
    readings_found: int = 0
    outside_window: int = 0
    put: int = 0
    dry_run: bool = False
    per_object: dict[str, int] = field(default_factory=dict)
    malformed: list[Problem] = field(default_factory=list)  # bad input, skipped: it was quarantined the first time
    unreadable: list[Problem] = field(default_factory=list)  # whole objects whose readings could not be replayed
    through: dict[str, int] = field(default_factory=dict)  # shard -> the last sequence number put: what to wait for

    @property
    def ok(self) -> bool:
        return not self.unreadable and (self.dry_run or self.put == self.readings_found)

    def text(self) -> str:
        lines = [
            f"{'source':<22}{self.source}",
            f"{'objects read':<22}{self.objects_read:>10}",
            f"{'readings found':<22}{self.readings_found:>10}",
        ]
        if self.outside_window:
            lines.append(
                f"{'outside the window':<22}{self.outside_window:>10}   (in the partitions read, not replayed)"
            )
        lines += [
            f"{'malformed skipped':<22}{len(self.malformed):>10}",
            f"{'unreadable objects':<22}{len(self.unreadable):>10}",
            f"{'put':<22}{self.put:>10}" + ("   (dry run: nothing put)" if self.dry_run else ""),
        ]
        for label, problems in (("malformed", self.malformed), ("unreadable", self.unreadable)):
            lines += [f"  {label}: {problem}" for problem in problems[:MAX_LISTED_PROBLEMS]]
            if len(problems) > MAX_LISTED_PROBLEMS:
                lines.append(f"  ... and {len(problems) - MAX_LISTED_PROBLEMS} more {label}")
        return "\n".join(lines)


# --- the raw archive -------------------------------------------------------------------------------------------------


def partition_hours(start: datetime, end: datetime, *, margin_hours: int = 0) -> list[datetime]:
    """Every UTC hour that overlaps [start, end), widened by ``margin_hours`` on each side."""
    hour = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=margin_hours)
    last = end.astimezone(UTC) + timedelta(hours=margin_hours)
    hours = []
    while hour < last:
        hours.append(hour)
        hour += timedelta(hours=1)
    return hours


def event_time(document: Any) -> datetime:
    """A reading's timestamp as the schema allows it: ISO-8601 with an offset, or integral epoch milliseconds."""
    if not isinstance(document, dict):
        raise ValueError(f"not a JSON object but {type(document).__name__}")  # noqa: TRY004 - bad input, as below
    if "timestamp" not in document:
        raise ValueError("no timestamp")
    raw = document["timestamp"]
    if isinstance(raw, str):
        try:
            parsed = datetime.fromisoformat(raw)
        except ValueError:
            raise ValueError(f"timestamp {raw!r} is not ISO-8601") from None
        if parsed.tzinfo is None:
            raise ValueError(f"timestamp {raw!r} has no UTC offset")
        return parsed.astimezone(UTC)
    if isinstance(raw, int | float) and not isinstance(raw, bool) and float(raw).is_integer():
        try:
            return datetime.fromtimestamp(raw / 1000, tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise ValueError(f"epoch milliseconds {raw} is not a date") from None
    raise ValueError(f"timestamp {raw!r} is neither ISO-8601 nor epoch milliseconds")


def archive_records(
    s3: Any, bucket: str, start: datetime, end: datetime, summary: Summary, *, margin_hours: int = 0
) -> Iterator[SyntheticRecord]:
    """The archived readings whose timestamp lies in [start, end), in partition, object and line order."""
    for hour in partition_hours(start, end, margin_hours=margin_hours):
        for key in _keys(s3, bucket, archive.partition_prefix(hour)):
            body = _read(s3, bucket, key, summary)
            if body is None:
                continue
            try:
                text = gzip.decompress(body) if body.startswith(GZIP_MAGIC) else body
            except (OSError, EOFError, zlib.error) as error:
                summary.unreadable.append(Problem(key, None, f"not a readable gzip object ({error})"))
                continue
            summary.objects_read += 1
            summary.per_object[key] = 0
            # Split on exactly the delimiter Firehose appends, so each line is the record's bytes as they were put.
            for number, line in enumerate(text.split(b"\n"), start=1):
                if not line.strip():
                    continue  # a producer's trailing newline plus Firehose's delimiter: not a record
                try:
                    document = json.loads(line)
                    when = event_time(document)
                except UnicodeDecodeError:
                    summary.malformed.append(Problem(key, f"line {number}", "not UTF-8"))
                    continue
                except json.JSONDecodeError as error:
                    summary.malformed.append(Problem(key, f"line {number}", f"not JSON ({error})"))
                    continue
                except ValueError as error:
                    summary.malformed.append(Problem(key, f"line {number}", _short(error)))
                    continue
                if not start <= when < end:
                    summary.outside_window += 1
                    continue
                summary.readings_found += 1
                summary.per_object[key] += 1
                yield _replayable(line, _archive_partition_key(document, line))


def _archive_partition_key(document: dict[str, Any], line: bytes) -> str:
    """The archive does not keep the original partition key; producers key by sensor_id, so replay does too and
    keeps each sensor's readings in order on one shard. A reading without a usable sensor_id still needs a key."""
    for name in ("sensor_id", "reading_id"):
        value = document.get(name)
        if isinstance(value, str) and 0 < len(value) <= MAX_PARTITION_KEY:
            return value
    return hashlib.sha256(line).hexdigest()


# --- the on-failure destination --------------------------------------------------------------------------------------


def failure_records(
    s3: Any, bucket: str, summary: Summary, *, since: datetime | None = None
) -> Iterator[SyntheticRecord]:
    """Every record of every failed batch (objects written at or after ``since``), with its partition key."""
    for key in _keys(s3, bucket, "", since=since):
        body = _read(s3, bucket, key, summary)
        if body is None:
            continue
        if key.startswith(MQTT_ERROR_PREFIX):
            yield from _rule_error_record(key, body, summary)
            continue
        try:
            records = _payload_records(json.loads(body))
        except (ValueError, KeyError, TypeError) as error:
            summary.unreadable.append(Problem(key, None, f"not an on-failure record with a payload ({_short(error)})"))
            continue
        summary.objects_read += 1
        summary.per_object[key] = 0
        for number, record in enumerate(records, start=1):
            try:
                data, partition_key = _kinesis_record(record)
            except (KeyError, TypeError, ValueError, binascii.Error) as error:
                summary.malformed.append(Problem(key, f"record {number}", f"undecodable ({_short(error)})"))
                continue
            summary.readings_found += 1
            summary.per_object[key] += 1
            yield _replayable(data, partition_key)


def _rule_error_record(key: str, body: bytes, summary: Summary) -> Iterator[SyntheticRecord]:
    """The message of one MQTT topic rule error document (IoT Core's error action), keyed by its topic."""
    try:
        data, topic = _rule_error(body)
    except (ValueError, KeyError, TypeError) as error:  # JSONDecodeError and binascii.Error are ValueErrors
        summary.unreadable.append(Problem(key, None, f"not a topic rule error with a payload ({_short(error)})"))
        return
    summary.objects_read += 1
    summary.readings_found += 1
    summary.per_object[key] = 1
    yield _replayable(data, topic)


def _rule_error(body: bytes) -> tuple[bytes, str]:
    document = json.loads(body)
    data = base64.b64decode(document["base64OriginalPayload"], validate=True)
    topic = document["topic"]
    if not isinstance(topic, str) or not 0 < len(topic) <= MAX_PARTITION_KEY:
        raise ValueError(f"topic {topic!r}")
    return data, topic


def _kinesis_record(record: Any) -> tuple[bytes, str]:
    """The original bytes and partition key of one record of a Lambda Kinesis event."""
    kinesis = record["kinesis"]
    data = base64.b64decode(kinesis["data"], validate=True)
    partition_key = kinesis["partitionKey"]
    if not isinstance(partition_key, str) or not 0 < len(partition_key) <= MAX_PARTITION_KEY:
        raise ValueError(f"partition key {partition_key!r}")
    return data, partition_key


def _payload_records(document: Any) -> list[Any]:
    """The Lambda event Lambda keeps in ``payload`` (a JSON string; accepted already parsed too)."""
    payload = document["payload"]
    event = json.loads(payload) if isinstance(payload, str) else payload
    records = event["Records"]
    if not isinstance(records, list):
        raise TypeError(f"Records is {type(records).__name__}")
    return records


# --- reading S3, putting ---------------------------------------------------------------------------------------------


def _keys(s3: Any, bucket: str, prefix: str, *, since: datetime | None = None) -> Iterator[str]:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for entry in page.get("Contents", []):
            if since is None or entry["LastModified"] >= since:
                yield entry["Key"]


def _read(s3: Any, bucket: str, key: str, summary: Summary) -> bytes | None:
    """An object's bytes; an object that cannot be read is reported and the run goes on with the others."""
    try:
        body: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as error:
        summary.unreadable.append(Problem(key, None, f"could not be read ({error.response['Error'].get('Code')})"))
        return None
    return body


def _replayable(data: bytes, partition_key: str) -> SyntheticRecord:
    # put_records takes the generator's record type; it only sends data and partition_key.
    return SyntheticRecord(data=data, partition_key=partition_key, reading_id=None, sensor_id=partition_key)


def _short(error: Exception) -> str:
    return str(error).splitlines()[0][:200] if str(error) else type(error).__name__


def replay(
    kinesis: Any,
    stream_name: str,
    records: Iterable[SyntheticRecord],
    summary: Summary,
    *,
    rate: float | None = None,
    dry_run: bool = False,
    progress: bool = True,
) -> Summary:
    """Put ``records`` with put_records (its progress bar, one per PUT_CHUNK); with ``dry_run`` only read them."""
    summary.dry_run = dry_run
    iterator = iter(records)  # read lazily: S3 is read while earlier chunks are put
    while chunk := list(itertools.islice(iterator, PUT_CHUNK)):
        if not dry_run:
            sent = put_records(kinesis, stream_name, chunk, rate=rate, progress=progress)
            summary.put += len(chunk)
            for shard, number in last_put(sent).items():
                summary.through[shard] = max(summary.through.get(shard, -1), number)
    return summary


# --- command line ----------------------------------------------------------------------------------------------------


def _iso_time(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an ISO-8601 time such as 2026-11-27T13:00:00Z") from None
    if parsed.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{value!r} has no UTC offset: add Z or +HH:MM, e.g. 2026-11-27T13:00:00Z")
    return parsed.astimezone(UTC)


def _margin(value: str) -> int:
    try:
        hours = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of hours") from None
    if not 0 <= hours <= MAX_UTC_OFFSET_HOURS:
        raise argparse.ArgumentTypeError(f"must be between 0 and {MAX_UTC_OFFSET_HOURS}, got {hours}")
    return hours


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.operations.replay",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    targets = parser.add_argument_group("targets")
    stage_or_stream = targets.add_mutually_exclusive_group(required=True)
    stage_or_stream.add_argument("--stage", metavar="NAME", help="targets from the iot-<NAME>-ingest/archive outputs")
    stage_or_stream.add_argument("--stream-name", metavar="NAME", help="the readings stream (instead of --stage)")
    targets.add_argument("--archive-bucket", metavar="BUCKET", help="raw archive, with --stream-name --from-archive")
    targets.add_argument(
        "--failure-bucket", metavar="BUCKET", help="failed batches, with --stream-name --from-failures"
    )
    targets.add_argument("--role-arn", metavar="ARN", help="assume this role first (a role in the stage's account)")
    sources = parser.add_argument_group("what to replay (one of --from-archive, --from-failures)")
    source = sources.add_mutually_exclusive_group(required=True)
    source.add_argument("--from-archive", action="store_true", help="archived readings of [--start, --end)")
    source.add_argument("--from-failures", action="store_true", help="batches in the on-failure destination")
    sources.add_argument("--start", type=_iso_time, metavar="ISO", help="first event time, with a UTC offset")
    sources.add_argument("--end", type=_iso_time, metavar="ISO", help="end of the window (excluded), with an offset")
    sources.add_argument(
        "--margin-hours",
        type=_margin,
        default=0,
        metavar="N",
        help="with --from-archive: also read N hours of partitions on each side (0-14, default 0). Firehose files "
        "an ISO timestamp with a non-UTC offset under its local hour; the window still applies to UTC time.",
    )
    sources.add_argument(
        "--since",
        type=_iso_time,
        metavar="ISO",
        help="with --from-failures: only objects written at or after this time (default: every object in the bucket)",
    )
    parser.add_argument("--dry-run", action="store_true", help="read and count, print what would be put; put nothing")
    parser.add_argument(
        "--rate", type=positive_number, metavar="N", help="at most N records/s (default: as fast as accepted)"
    )
    return parser


def _check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.from_archive:
        if args.start is None or args.end is None:
            parser.error("--from-archive needs --start and --end")
        if args.start >= args.end:
            parser.error(f"--start ({args.start.isoformat()}) must be before --end ({args.end.isoformat()})")
        if args.since is not None:
            parser.error("--since goes with --from-failures; --from-archive takes --start and --end")
    elif args.start is not None or args.end is not None or args.margin_hours:
        parser.error("--start, --end and --margin-hours go with --from-archive")
    if args.stage is not None and (args.archive_bucket or args.failure_bucket):
        parser.error("--stage takes the buckets from the stage's outputs; name them only with --stream-name")
    if args.stream_name is not None:
        if args.from_archive and not args.archive_bucket:
            parser.error("--from-archive with --stream-name needs --archive-bucket")
        if args.from_failures and not args.failure_bucket:
            parser.error("--from-failures with --stream-name needs --failure-bucket")


def _targets(args: argparse.Namespace, session: Any) -> tuple[str, str]:
    """The stream to put to and the bucket to read."""
    if args.stage is None:
        return args.stream_name, args.archive_bucket if args.from_archive else args.failure_bucket
    try:
        targets = Targets.from_stage(session, args.stage)
        bucket = targets.require_archive() if args.from_archive else targets.failure_bucket
    except ClientError as error:
        raise SystemExit(f"error: cannot read the outputs of stage {args.stage!r}: {error}") from None
    except MissingOutputError as error:
        raise SystemExit(f"error: stage {args.stage!r}: {error}") from None
    return targets.stream_name, bucket


def main(argv: list[str] | None = None) -> int:
    cli = build_parser()
    args = cli.parse_args(argv)
    _check(cli, args)
    session = session_for(args.role_arn, session_name="iot-replay")
    stream, bucket = _targets(args, session)
    s3 = session.client("s3")
    if args.from_archive:
        summary = Summary(source=f"s3://{bucket}/{archive.READINGS_PREFIX} [{args.start:%FT%TZ}, {args.end:%FT%TZ})")
        records = archive_records(s3, bucket, args.start, args.end, summary, margin_hours=args.margin_hours)
    else:
        summary = Summary(source=f"s3://{bucket}/" + (f" since {args.since:%FT%TZ}" if args.since else ""))
        records = failure_records(s3, bucket, summary, since=args.since)
    print(f"{'dry run: ' if args.dry_run else ''}replaying {summary.source} into {stream}", file=sys.stderr)
    failed = None
    try:
        replay(session.client("kinesis"), stream, records, summary, rate=args.rate, dry_run=args.dry_run)
    except (ClientError, BotoCoreError, RuntimeError) as error:
        failed = error  # the summary still says how far the replay got
    if args.dry_run:
        for key, count in summary.per_object.items():
            print(f"would put {count:>8} from s3://{bucket}/{key}")
    print(summary.text())
    if failed is not None:
        print(f"error: replay stopped: {failed}", file=sys.stderr)
        return 1
    return 0 if summary.ok else 1


if __name__ == "__main__":
    sys.exit(main())
