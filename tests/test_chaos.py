"""``make chaos``, shorter: staging's experiment, table throttling and a stalled consumer on one local platform; for
each, no reading lost or stored twice, and its alarm and the composite go to ALARM and come back to OK.

Phases of 5 s at 200 readings/s, and make chaos's 40-s stall: its backlog of 8,000 readings takes the iterator-age
alarm's 3 one-second periods to drain with a margin (4,000 readings drained in about 3.5 s here, and fired the alarm
in one run out of two). tools/local/tests/test_chaos.py checks the parts one by one; nothing here asserts a
duration: the latency figures are printed by the command.
"""

from __future__ import annotations

import contextlib
import io
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from tools.local.chaos import FAULT_KINDS, main

# The table-throttle alarm fires only once the throttled invocations give up (a minute of retries): the run takes
# five minutes or so, its synth and deploy included.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]
PHASE_ROW = re.compile(r"^  (before|during|after)\s+([\d,]+)\s+(PASS|FAIL)\s+([\d,]+)", flags=re.MULTILINE)


@dataclass(frozen=True)
class Chaotic:
    exit_code: int
    output: str

    def section(self, kind: str) -> str:
        """The lines of one fault kind's report, from its title to the next unindented line."""
        match = re.search(rf"^{re.escape(kind)}: .*\n((?:  .*\n)+)", self.output, flags=re.MULTILINE)
        assert match, f"no {kind!r} section in:\n{self.output}"
        return match.group(1)

    def alarm_changes(self, kind: str, alarm: str) -> list[str]:
        match = re.search(rf"^  iot-sandbox-{re.escape(alarm)}: (.*) \(since", self.section(kind), flags=re.MULTILINE)
        assert match, f"no changes of {alarm} under {kind}"
        return match.group(1).split(" -> ")


@pytest.fixture(scope="module")
def chaotic(tmp_path_factory: pytest.TempPathFactory) -> Chaotic:
    log = tmp_path_factory.mktemp("chaos") / "processor.log"
    arguments = ["--rate", "200", "--fault-seconds", "5", "--stalled-seconds", "40", "--log", str(Path(log))]
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        code = main(arguments)
    return Chaotic(code, output.getvalue())


def test_chaos_passes_with_every_fault_kind(chaotic: Chaotic) -> None:
    assert chaotic.exit_code == 0, chaotic.output
    assert chaotic.output.rstrip().endswith("chaos: PASS (3 fault kinds)"), chaotic.output
    assert "staging's experiment (cdk.json): InvocationErrors aws:lambda:invocation-error" in chaotic.output


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_no_reading_is_lost_or_stored_twice_before_during_or_after_the_fault(chaotic: Chaotic, kind: str) -> None:
    section = chaotic.section(kind)
    rows = PHASE_ROW.findall(section)
    assert [(name, landed) for name, _, landed, _ in rows] == [
        ("before", "PASS"),
        ("during", "PASS"),
        ("after", "PASS"),
    ]
    assert all(int(readings.replace(",", "")) > 0 for _, readings, _, _ in rows)
    assert "  stored twice: 0\n" in section
    assert "  held: PASS\n" in section


@pytest.mark.parametrize(
    ("kind", "alarm"),
    [
        ("invocation-errors", "processor-errors"),
        ("table-throttling", "table-write-throttles"),
        ("stalled-consumer", "processor-iterator-age"),
    ],
)
def test_the_faults_alarm_and_the_composite_fire_and_recover(chaotic: Chaotic, kind: str, alarm: str) -> None:
    for watched in (alarm, "data-path-unhealthy"):
        changes = chaotic.alarm_changes(kind, watched)
        assert changes[0] == "ALARM", (kind, watched, changes)
        assert changes[-1] == "OK", (kind, watched, changes)
