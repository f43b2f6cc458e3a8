"""The suite runs off UTC (conftest.py), so a conversion made in local time where UTC is meant fails somewhere."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime


def test_the_suite_runs_in_a_zone_off_utc_by_a_half_hour() -> None:
    offset = datetime.now().astimezone().utcoffset()
    assert offset is not None
    assert offset.total_seconds() % 3600 == 1800, os.environ.get("TZ")


def test_local_time_and_utc_differ_here() -> None:
    moment = datetime(2026, 12, 6, 1, 0, tzinfo=UTC).timestamp()
    assert time.strftime("%Y-%m-%d %H", time.localtime(moment)) != time.strftime("%Y-%m-%d %H", time.gmtime(moment))
