"""Reads one Kinesis shard from a starting position until stopped, as both local consumers need."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import boto3
import botocore.session
from botocore.exceptions import BotoCoreError, ClientError
from botocore.utils import parse_timestamp

IDLE_POLL_SECONDS = 0.05  # the pause after a first empty page
# Each further empty page doubles the pause, up to the rate at which Lambda and Firehose poll an idle shard: once a
# second. An idle reader then costs the emulator one request a second instead of twenty.
MAX_IDLE_POLL_SECONDS = 1.0
logger = logging.getLogger(__name__)


StreamPositions = Mapping[str, int]  # shard id -> a sequence number in that shard


def shard_ids(kinesis: Any, stream_name: str, *, page_size: int = 1000) -> list[str]:
    """Every shard of the stream, in order, across as many pages as ListShards answers in."""
    page = kinesis.list_shards(StreamName=stream_name, MaxResults=page_size)
    shards = [shard["ShardId"] for shard in page["Shards"]]
    while page.get("NextToken"):
        page = kinesis.list_shards(NextToken=page["NextToken"], MaxResults=page_size)
        shards += [shard["ShardId"] for shard in page["Shards"]]
    return shards


def utc_timestamp(value: Any) -> datetime:
    """A timestamp from an answer, epoch seconds read straight into UTC; any other form as botocore reads it."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    parsed: datetime = parse_timestamp(value)
    return parsed


def kinesis_client() -> Any:
    """A Kinesis client for the consumers: every record's arrival time read as UTC epoch seconds.

    botocore turns each timestamp into the local time zone through dateutil, a large part of a consumer's CPU for a
    page of records (docs/performance.md). The instant is the same; only its zone is UTC.
    """
    session = botocore.session.get_session()
    session.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=utc_timestamp)
    return boto3.Session(botocore_session=session).client("kinesis")


class ShardReader:
    """Calls ``deliver`` with every page of records; ``at_tip`` says whether the last poll found the shard's end.

    ``at_tip`` is only as fresh as the last poll, up to a second old: ``at_tip_past`` also asks that given records
    (the ones just put, say) have been delivered.
    """

    def __init__(
        self,
        kinesis: Any,
        *,
        stream_name: str,
        shard_id: str,
        position: str,
        deliver: Callable[[list[Any]], None],
        stop: threading.Event,
    ) -> None:
        self._kinesis = kinesis
        self._stream_name = stream_name
        self.shard_id = shard_id
        self._position = position
        self._deliver = deliver
        self._stop = stop
        self.at_tip = False
        self.last_read = -1  # the sequence number of the last record delivered
        self.delivered = 0  # records delivered so far

    def run(self) -> None:
        iterator = self._kinesis.get_shard_iterator(
            StreamName=self._stream_name, ShardId=self.shard_id, ShardIteratorType=self._position
        )["ShardIterator"]
        pause = IDLE_POLL_SECONDS
        while not self._stop.is_set():
            try:
                response = self._kinesis.get_records(ShardIterator=iterator, Limit=10_000)
            except (ClientError, BotoCoreError):
                # moto's server can fail a read that races a write; the iterator is still good, so read again.
                logger.warning("get_records failed on %s; retrying", self.shard_id, exc_info=True)
                time.sleep(IDLE_POLL_SECONDS)
                continue
            iterator = response["NextShardIterator"]
            records = list(response["Records"])
            if records:
                self._deliver(records)
                self.last_read = int(records[-1]["SequenceNumber"])
                self.delivered += len(records)
                pause = IDLE_POLL_SECONDS
            self.at_tip = not records and response.get("MillisBehindLatest", 0) == 0
            if not records:
                time.sleep(pause)
                pause = min(2 * pause, MAX_IDLE_POLL_SECONDS)

    def at_tip_past(self, positions: StreamPositions) -> bool:
        """At the tip, with the record at this shard's position in ``positions`` (if any) delivered."""
        return self.at_tip and self.last_read >= positions.get(self.shard_id, -1)
