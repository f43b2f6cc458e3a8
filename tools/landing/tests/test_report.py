"""What a smoke test or a local run prints: every line of the summary, and the list of what is missing or wrong."""

from __future__ import annotations

from collections import Counter

import pytest

from shared.readings.schema import Reason
from shared.synthetic.readings import SyntheticRecord
from tools.landing.locate import AlertInbox, Checks, Landing
from tools.landing.producers import Sent
from tools.landing.report import report

INBOX = Checks(archive=True, alerts=AlertInbox(None, "https://sqs/inbox"))


def _sent(kind: str, number: int) -> Sent:
    record = SyntheticRecord(
        data=b"{}",
        partition_key=f"s-{number}",
        reading_id=None if kind == "invalid" else f"r-{number}",
        sensor_id=f"s-{number}",
        anomaly=kind == "anomaly",
        invalid_reason=Reason.NOT_JSON if kind == "invalid" else None,
    )
    return Sent(record=record, shard_id="shardId-0", sequence_number=str(100 + number), put_at=0.0)


SENT = [_sent("normal", 0), _sent("anomaly", 1), _sent("invalid", 2), _sent("normal", 3), _sent("anomaly", 4)]


def _landing(places: dict[int, set[str]], problems: dict[int, str] | None = None) -> Landing:
    return Landing(places=places, problems=problems or {}, quarantine_reasons=Counter({"not_json": 1}))


def test_a_complete_landing_prints_every_count_and_passes() -> None:
    places = {
        0: {"table", "archive"},
        1: {"table", "archive", "alert"},
        2: {"quarantine", "archive"},
        3: {"table", "archive"},
        4: {"table", "archive", "alert"},
    }
    text, ok = report(SENT, _landing(places), checks=INBOX)
    assert ok
    assert text.splitlines() == [
        "records put                        5   (normal 2, anomalies 2, invalid 1)",
        "in readings table                  4",
        "  flagged as anomaly               2",
        "  alerted                          2",
        "in quarantine                      1   {'not_json': 1}",
        "in failure destination             0",
        "in raw archive                     5",
        "result                          PASS",
    ]


def test_without_the_archive_or_the_inbox_their_lines_are_left_out() -> None:
    places = {0: {"table"}, 1: {"table"}, 2: {"quarantine"}, 3: {"table"}, 4: {"table"}}
    text, ok = report(SENT, _landing(places), checks=Checks())
    assert ok
    assert "alerted" not in text
    assert "in raw archive" not in text
    assert text.splitlines()[-1] == "result                          PASS"


def test_what_is_missing_and_what_is_wrong_are_listed_after_a_fail() -> None:
    places = {
        0: {"table", "archive"},
        1: {"table", "archive"},
        2: {"archive"},
        3: {"failure destination", "archive"},
        4: {"table", "archive", "alert"},
    }
    problems = {4: "anomaly flag is {'BOOL': False}, expected True"}
    text, ok = report(SENT, _landing(places, problems), checks=INBOX)
    assert not ok
    lines = text.splitlines()
    assert lines[2] == "  flagged as anomaly               1"  # the wrongly stored anomaly is not counted
    assert lines[5] == "in failure destination             1"
    assert lines[7:] == [
        "result                          FAIL",
        "  missing from alert: reading r-1 sensor s-1 seq 101",
        "  missing from quarantine: reading (invalid record) sensor s-2 seq 102",
        "  wrong: reading r-4: anomaly flag is {'BOOL': False}, expected True",
    ]


def test_a_problem_alone_fails_the_report() -> None:
    places = {0: {"table"}, 1: {"table"}, 2: {"quarantine"}, 3: {"table"}, 4: {"table"}}
    text, ok = report(SENT, _landing(places, {2: "quarantined for not_utf8, expected not_json"}), checks=Checks())
    assert not ok
    assert text.splitlines()[-1] == "  wrong: reading 102: quarantined for not_utf8, expected not_json"


@pytest.mark.parametrize(
    ("missing", "listed", "more"),
    [(50, 50, None), (51, 50, "  ... and 1 more missing"), (120, 50, "  ... and 70 more missing")],
)
def test_at_most_fifty_missing_readings_are_named_then_how_many_more(
    missing: int, listed: int, more: str | None
) -> None:
    sent = [_sent("normal", number) for number in range(missing)]
    text, _ = report(sent, _landing({}), checks=Checks())
    lines = text.splitlines()
    named = [line for line in lines if line.startswith("  missing from table: reading ")]
    assert len(named) == listed
    assert named[0] == "  missing from table: reading r-0 sensor s-0 seq 100"
    assert (lines[-1] if more else None) == more
    assert len(lines) == 6 + listed + (1 if more else 0)


def test_at_most_fifty_problems_are_named() -> None:
    sent = [_sent("normal", number) for number in range(60)]
    places = {number: {"table"} for number in range(60)}
    text, _ = report(sent, _landing(places, dict.fromkeys(range(60), "wrong")), checks=Checks())
    assert sum(1 for line in text.splitlines() if line.startswith("  wrong: ")) == 50
