"""Reads one Kinesis shard from a starting position until stopped, as both local consumers need."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

IDLE_POLL_SECONDS = 0.05  # the pause after a first empty page
# Each further empty page doubles the pause, up to the rate at which Lambda and Firehose poll an idle shard: once a
# second. An idle reader then costs the emulator one request a second instead of twenty.
MAX_IDLE_POLL_SECONDS = 1.0
logger = logging.getLogger(__name__)


class ShardReader:
    """Calls ``deliver`` with every page of records; ``at_tip`` says whether the last poll found the shard's end."""

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
        self._shard_id = shard_id
        self._position = position
        self._deliver = deliver
        self._stop = stop
        self.at_tip = False

    def run(self) -> None:
        iterator = self._kinesis.get_shard_iterator(
            StreamName=self._stream_name, ShardId=self._shard_id, ShardIteratorType=self._position
        )["ShardIterator"]
        pause = IDLE_POLL_SECONDS
        while not self._stop.is_set():
            try:
                response = self._kinesis.get_records(ShardIterator=iterator, Limit=10_000)
            except (ClientError, BotoCoreError):
                # moto's server can fail a read that races a write; the iterator is still good, so read again.
                logger.warning("get_records failed on %s; retrying", self._shard_id, exc_info=True)
                time.sleep(IDLE_POLL_SECONDS)
                continue
            iterator = response["NextShardIterator"]
            records = list(response["Records"])
            if records:
                self._deliver(records)
                pause = IDLE_POLL_SECONDS
            self.at_tip = not records and response.get("MillisBehindLatest", 0) == 0
            if not records:
                time.sleep(pause)
                pause = min(2 * pause, MAX_IDLE_POLL_SECONDS)
