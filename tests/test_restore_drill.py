"""``make restore-drill``, smaller: the local platform streams its readings, then both ways back run and match.

The drill starts the local platform in a process of its own (``tools.local.run --serve``), as ``make restore-drill``
does; tools/operations/tests/test_restore_drill.py checks its parts one by one.
"""

from __future__ import annotations

import contextlib
import io
import re
from dataclasses import dataclass

import pytest

from tools.operations.restore_drill import EXPIRED, main

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

RECORDS, LATE, INCIDENT = 400, 10, 5


@dataclass(frozen=True)
class Drilled:
    exit_code: int
    output: str

    def section(self, title: str) -> str:
        """The lines of one path's report, from its title to the next unindented line."""
        match = re.search(rf"^{re.escape(title)}\n((?:  .*\n)+)", self.output, flags=re.MULTILINE)
        assert match, f"no {title!r} section in:\n{self.output}"
        return match.group(1)

    def figure(self, title: str, label: str) -> int:
        match = re.search(rf"^  {re.escape(label)}\s+([\d,]+)", self.section(title), flags=re.MULTILINE)
        assert match, f"no {label!r} in {title!r}"
        return int(match.group(1).replace(",", ""))


@pytest.fixture(scope="module")
def drilled() -> Drilled:
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        code = main(["--records", str(RECORDS), "--late", str(LATE), "--incident", str(INCIDENT)])
    return Drilled(code, output.getvalue())


def test_the_drill_passes_after_the_local_runs_own_round(drilled: Drilled) -> None:
    assert drilled.exit_code == 0, drilled.output
    assert "result                          PASS" in drilled.output  # the local run's round, before the drill
    assert drilled.output.rstrip().endswith("restore drill: PASS")


def test_the_point_in_time_restore_matches_the_table_at_t_item_by_item(drilled: Drilled) -> None:
    stored = RECORDS - round(RECORDS * 0.01)  # the run's invalid share is quarantined
    assert drilled.figure("point in time", "items compared") == stored
    assert drilled.figure("point in time", "differences") == 0
    section = drilled.section("point in time")
    assert (
        f"overwrote {INCIDENT} items and deleted {INCIDENT} ({2 * INCIDENT} differences in the live table)" in section
    )
    assert "recovery time at prod's volume: 10,000 readings/s x 86,400 s" in section


def test_the_rebuild_matches_but_for_the_expired_late_readings_it_stores_again(drilled: Drilled) -> None:
    stored = RECORDS - round(RECORDS * 0.01)
    assert f"({LATE} expired items deleted, as TTL does)" in drilled.output
    assert drilled.figure("rebuild from the archive", "items compared") == stored + LATE
    assert drilled.figure("rebuild from the archive", "differences") == 0
    assert drilled.figure("rebuild from the archive", "exception") == LATE
    section = drilled.section("rebuild from the archive")
    assert EXPIRED in section
    assert f"{stored + LATE:,} readings put again" in section
    assert "at prod's spare stream capacity (16,000 records/s - 10,000 live = 6,000/s)" in section
