"""The stage's alarms evaluated on the local run: a clean run leaves every alarm OK; each fault drives the alarms that
watch it, and the composite, to ALARM, and they come back to OK once the fault stops; the dashboard drawn from the
run shows a series in every widget, in a real browser.

The faults run on one platform, one after the other, with the alarms evaluated over 1-second periods
(``alarm_period_seconds``: their evaluation periods and datapoints to alarm unchanged), the iterator-age threshold at
2 s and batches of 25, so that seconds of a fault show what minutes would in an account. Every wait is bounded and
fails with the alarms' report; nothing asserts a duration.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import boto3
import pytest

from shared.synthetic.readings import SyntheticRecord, synthetic_records
from tools.alarms.definitions import State
from tools.common.chromium import missing_reason, rendered_dom
from tools.landing.producers import put_records
from tools.local.run import LocalPlatform, RunResult, local_platform

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]
OK, ALARM = State.OK, State.ALARM
PERIOD_SECONDS = 1
FAST = {
    "iot.stages.dev.observability.iteratorAgeThresholdSeconds": "2",
    "iot.stages.dev.ingest.batchSize": "25",
}
POISON = "poison-alarms"
WAIT_SECONDS = 90.0


def alarm(platform: LocalPlatform, symptom: str) -> str:
    name = f"iot-sandbox-{symptom}"
    assert name in platform.alarms.evaluator.names, platform.alarms.evaluator.names
    return name


def wait_until(platform: LocalPlatform, reached: Callable[[], bool], *, what: str) -> None:
    """Until ``reached``, as the alarms are evaluated every half second; fails with their report after WAIT_SECONDS."""
    pause = threading.Event()
    for _ in range(int(WAIT_SECONDS / 0.25)):
        if reached():
            return
        pause.wait(0.25)
    report = platform.alarms.evaluator.report(since=platform.alarms.evaluator.transitions[0].at)
    raise AssertionError(f"{what}: not reached within {WAIT_SECONDS} s\n{report}")


def wait_for_alarm(platform: LocalPlatform, *symptoms: str, since: int, what: str) -> None:
    """Until each alarm has gone to ALARM since the ``since``-th change (on 1-second periods and an evaluation
    every half second, an alarm of one evaluation period can be back to OK a second later)."""
    names = [alarm(platform, symptom) for symptom in symptoms]
    wait_until(
        platform,
        lambda: all(ALARM in went_through(platform, name.removeprefix("iot-sandbox-"), since) for name in names),
        what=what,
    )


def all_ok(platform: LocalPlatform, *, what: str) -> None:
    evaluator = platform.alarms.evaluator
    wait_until(platform, lambda: set(evaluator.states.values()) == {OK}, what=what)


def put(platform: LocalPlatform, records: list[SyntheticRecord], *, rate: float) -> None:
    put_records(boto3.client("kinesis"), platform.targets.stream_name, records, rate=rate, progress=False)


def readings(count: int, *, invalid_share: float = 0.0) -> list[SyntheticRecord]:
    return synthetic_records(
        count, run_id=f"alarms-{uuid.uuid4().hex[:8]}", now=datetime.now(UTC), invalid_share=invalid_share
    )


def fired_then_recovered(changes: list[State]) -> bool:
    """To ALARM first and OK last (a bursty fault may flip it more than once on 1-second periods)."""
    return len(changes) >= 2 and changes[0] is ALARM and changes[-1] is OK


def went_through(platform: LocalPlatform, symptom: str, since: int) -> list[State]:
    name = alarm(platform, symptom)
    return [t.state for t in platform.alarms.evaluator.transitions[since:] if t.alarm == name]


# --- a clean run ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalPlatform, RunResult]]:
    log = tmp_path_factory.mktemp("clean") / "processor.log"
    with local_platform(log_path=log) as platform:
        yield platform, platform.run(readings(2000, invalid_share=0.01), progress=False)


def test_a_clean_run_ends_with_every_alarm_ok_over_real_datapoints(clean: tuple[LocalPlatform, RunResult]) -> None:
    platform, result = clean
    assert result.ok, result.summary
    states = platform.alarms.evaluate_now()
    assert set(states.values()) == {OK}, platform.alarms.evaluator.report(since=0)
    assert len(states) == 13  # 3 rollback alarms, 9 of observability (the dev stage has no silence alarm), composite
    latest = platform.alarms.evaluator.latest
    assert latest[alarm(platform, "processor-quarantine-share")] == pytest.approx(0.01, abs=0.005)
    assert latest[alarm(platform, "processor-errors")] == 0
    assert latest[alarm(platform, "processor-iterator-age")] is not None
    assert ALARM not in {t.state for t in platform.alarms.evaluator.transitions}


# --- faults, one after the other ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPlatform]:
    log = tmp_path_factory.mktemp("faults") / "processor.log"
    faults = {"table_server_errors": 2, "poison_marker": POISON}
    with local_platform(
        log_path=log,
        faults=faults,
        assembly_dir=tmp_path_factory.mktemp("cdk.out"),
        overrides=FAST,
        alarm_period_seconds=PERIOD_SECONDS,
    ) as platform:
        platform.alarms.evaluate_now()
        yield platform


def test_throttled_and_failing_table_writes_drive_table_throttles_readings_failed_and_the_composite(
    faulty: LocalPlatform,
) -> None:
    since = len(faulty.alarms.evaluator.transitions)
    # The alarm pages only on throttling in each of its 5 evaluation periods: the table throttles every write while
    # readings keep coming (the first two writes also fail with a 500); the processor reports them failed.
    faulty.function.table_throttling.set()
    put(faulty, readings(800), rate=100)
    wait_for_alarm(
        faulty, "table-write-throttles", "processor-readings-failed", "data-path-unhealthy", since=since, what="table"
    )
    faulty.function.table_throttling.clear()
    all_ok(faulty, what="recovery from the table faults")
    for symptom in ("table-write-throttles", "processor-readings-failed", "data-path-unhealthy"):
        assert fired_then_recovered(went_through(faulty, symptom, since)), symptom


def test_a_high_invalid_share_drives_the_quarantine_share_and_the_composite(faulty: LocalPlatform) -> None:
    all_ok(faulty, what="before")
    since = len(faulty.alarms.evaluator.transitions)
    put(faulty, readings(1200, invalid_share=0.5), rate=200)  # 6 s at half invalid: 3 periods of 3 breach
    wait_for_alarm(faulty, "processor-quarantine-share", "data-path-unhealthy", since=since, what="invalid share")
    put(faulty, readings(400), rate=200)
    all_ok(faulty, what="recovery from the invalid share")
    assert fired_then_recovered(went_through(faulty, "processor-quarantine-share", since))
    assert went_through(faulty, "processor-errors", since) == []


def test_function_errors_drive_processor_errors_and_the_composite(faulty: LocalPlatform) -> None:
    all_ok(faulty, what="before")
    since = len(faulty.alarms.evaluator.transitions)
    poison = SyntheticRecord(
        data=json.dumps({"sensor_id": POISON}).encode(), partition_key=POISON, reading_id=None, sensor_id=POISON
    )
    put(faulty, [*readings(100), poison, *readings(100)], rate=200)  # retried, bisected, then the failure bucket
    wait_for_alarm(faulty, "processor-errors", "data-path-unhealthy", since=since, what="function errors")
    all_ok(faulty, what="recovery from the function errors")
    assert fired_then_recovered(went_through(faulty, "processor-errors", since))
    assert faulty.mapping.stats.batches_to_failure_destination >= 1
    assert went_through(faulty, "mapping-dropped-events", since) == []  # delivered to the bucket, not dropped


def test_throttled_invocations_drive_processor_throttles_and_the_composite(faulty: LocalPlatform) -> None:
    all_ok(faulty, what="before")
    since = len(faulty.alarms.evaluator.transitions)
    faulty.function.throttling.set()
    put(faulty, readings(500), rate=250)  # refused while it lasts: the mapping tries again every half second
    wait_for_alarm(faulty, "processor-throttles", "data-path-unhealthy", since=since, what="throttles")
    faulty.function.throttling.clear()
    all_ok(faulty, what="recovery from the throttles")
    assert fired_then_recovered(went_through(faulty, "processor-throttles", since))
    assert went_through(faulty, "processor-errors", since) == []


def test_a_stalled_consumer_drives_iterator_age(faulty: LocalPlatform) -> None:
    all_ok(faulty, what="before")
    since = len(faulty.alarms.evaluator.transitions)
    faulty.function.delay_seconds = 1.0  # 4 lanes of 25 a second: 100 readings/s, against 250 put
    put(faulty, readings(1500), rate=250)
    wait_for_alarm(faulty, "processor-iterator-age", "data-path-unhealthy", since=since, what="stalled consumer")
    faulty.function.delay_seconds = 0.0
    all_ok(faulty, what="recovery from the stalled consumer")
    assert fired_then_recovered(went_through(faulty, "processor-iterator-age", since))
    assert went_through(faulty, "processor-throttles", since) == []


# --- the dashboard, in a browser ------------------------------------------------------------------------------------


class Widgets(HTMLParser):
    """Per widget of the rendered page (by title): how many SVG shapes plotly drew for its series, as lines, points
    or bars, with a non-empty outline."""

    def __init__(self) -> None:
        super().__init__()
        self.drawn: dict[str, int] = {}
        self._open: list[tuple[str, set[str]]] = []  # the elements around the current one, with their classes
        self._widget: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        classes = set((attributes.get("class") or "").split())
        if tag == "section" and "widget" in classes and "text" not in classes:
            self._widget = attributes.get("data-widget") or ""
            self.drawn.setdefault(self._widget, 0)
        around = set().union(*(found for _, found in self._open)) if self._open else set()
        drawn = {"js-line", "point"} & classes or {"bars", "point"} & around
        if tag == "path" and self._widget is not None and attributes.get("d") and drawn:
            self.drawn[self._widget] += 1
        self._open.append((tag, classes))

    def handle_endtag(self, tag: str) -> None:
        while self._open:
            opened, _ = self._open.pop()
            if opened == tag:
                break
        if tag == "section":
            self._widget = None


def test_every_widget_of_the_dashboard_shows_a_series_in_a_browser(faulty: LocalPlatform, tmp_path: Path) -> None:
    missing = missing_reason()
    if missing:
        pytest.skip(f"no headless browser: {missing}")
    result = faulty.run(readings(200), progress=False)
    page = tmp_path / "dashboard.html"
    page.write_text(faulty.dashboard(result, since=faulty.alarms.evaluator.transitions[0].at), encoding="utf-8")
    widgets = Widgets()
    widgets.feed(rendered_dom(page))
    graphs = [w for w in faulty.monitoring.dashboards[0]["widgets"] if w["type"] in ("metric", "alarm")]
    assert len(widgets.drawn) == len(graphs) + 3  # every graph, the alarm status, and the run's three charts
    assert not [title for title, drawn in widgets.drawn.items() if drawn == 0], widgets.drawn
