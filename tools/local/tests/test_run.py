"""The local run's own logic: what it waits for before checking where the readings landed, what it prints, and how
the main job exits (over a stand-in platform; tests/test_end_to_end.py runs the real one)."""

from __future__ import annotations

import gc
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from shared.synthetic.readings import synthetic_records
from tools.alarms.definitions import State
from tools.landing.locate import Landing
from tools.landing.producers import Sent
from tools.local import run
from tools.local.run import RunResult, last_put


def test_the_run_waits_for_the_last_record_put_to_each_shard() -> None:
    record = synthetic_records(1, run_id="unit", now=datetime.now(UTC), anomaly_share=0, invalid_share=0)[0]
    # Sequence numbers compared as numbers: "10" comes after "9", and an aggregate's readings share theirs.
    sent = [
        Sent(record=record, shard_id=shard, sequence_number=number, put_at=0.0, sub_record=sub)
        for shard, number, sub in [("a", "9", None), ("a", "10", 0), ("a", "10", 1), ("b", "7", None), ("a", "8", None)]
    ]
    assert last_put(sent) == {"a": 10, "b": 7}
    assert last_put([]) == {}


# --- the command line (make local), over a stand-in platform: what it prints and how it exits ---------------------


class Stats(SimpleNamespace):
    pass


class FakeAlarms:
    """The alarm watch as main() uses it: every alarm evaluated now, and the evaluator's report."""

    def __init__(self) -> None:
        self.states = {"iot-sandbox-processor-errors": State.OK, "iot-sandbox-data-path-unhealthy": State.OK}
        self.evaluations = 0
        self.evaluator = SimpleNamespace(report=lambda since: "  alarm report")

    def evaluate_now(self) -> dict[str, State]:
        self.evaluations += 1
        return dict(self.states)


class FakePlatform:
    """What main() uses of the local platform: its deployed stacks, one run per round, its loops' counters, its
    alarms and its dashboard page."""

    def __init__(self, results: list[bool | type[BaseException]]) -> None:
        self.results = results
        self.alarms = FakeAlarms()
        self.pages = 0
        self.runs: list[tuple[int, float | None, str]] = []
        self.forgotten = 0
        self.deployed = SimpleNamespace(stacks={"ingest": SimpleNamespace(name="iot-sandbox-ingest")})
        self.mapping = SimpleNamespace(
            stats=Stats(invocations=3, function_errors=0, partial_failures=0, bisections=0, completed_at={})
        )
        self.firehose = SimpleNamespace(stats=Stats(records=10, errors=0, objects=1))

    def run(self, records: list[Any], *, rate: float | None, producer: str) -> RunResult:
        self.runs.append((len(records), rate, producer))
        outcome = self.results.pop(0)
        if not isinstance(outcome, bool):
            raise outcome()
        return RunResult(
            sent=[],
            landing=Landing(),
            ok=outcome,
            summary=f"result {'PASS' if outcome else 'FAIL'}",
            put_seconds=0.5,
            settle_seconds=2.0,
            check_seconds=0.25,
            latencies=[],
        )

    def forget_round(self) -> None:
        self.forgotten += 1

    def dashboard(self, result: RunResult, *, since: float) -> str:
        self.pages += 1
        return f"<html>{result.summary}</html>"


@pytest.fixture
def platform(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[..., FakePlatform]:
    monkeypatch.chdir(tmp_path)  # the default page, reports/dashboard.html, is written there

    def install(*results: bool | type[BaseException]) -> FakePlatform:
        fake = FakePlatform(list(results))

        @contextmanager
        def local_platform(**_: Any) -> Iterator[FakePlatform]:
            yield fake

        monkeypatch.setattr(run, "local_platform", local_platform)
        monkeypatch.setattr(gc, "freeze", lambda: None)  # the fake leaves nothing worth freezing
        return fake

    return install


def test_a_passing_run_exits_0_and_says_where_the_logs_are(
    platform: Callable[..., FakePlatform], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = platform(True)
    log, page = tmp_path / "logs" / "run.log", tmp_path / "pages" / "dashboard.html"
    arguments = ["--records", "40", "--rate", "100", "--producer", "kpl", "--log", str(log), "--dashboard", str(page)]
    assert run.main(arguments) == 0
    out = capsys.readouterr().out
    assert fake.runs == [(40, 100.0, "kpl")]
    assert "deployed iot-sandbox-ingest in " in out
    assert "result PASS" in out
    assert re.search(
        r"alarms \(evaluated over the run in [\d.]+ s; changes in seconds after the start\):\n  alarm report", out
    )
    assert re.search(rf"dashboard: {re.escape(str(page))} \(drawn in [\d.]+ s\)", out)
    assert page.read_text() == "<html>result PASS</html>"
    assert f"processor logs: {log}; total " in out
    assert log.parent.is_dir()


@pytest.mark.parametrize("state", [State.ALARM, State.INSUFFICIENT_DATA])
def test_a_run_that_leaves_an_alarm_out_of_ok_exits_1(
    platform: Callable[..., FakePlatform], tmp_path: Path, state: State
) -> None:
    fake = platform(True)
    fake.alarms.states["iot-sandbox-processor-errors"] = state
    assert run.main(["--records", "10", "--log", str(tmp_path / "run.log"), "--dashboard", str(tmp_path / "d")]) == 1
    assert fake.alarms.evaluations == 1


def test_a_failing_run_exits_1(platform: Callable[..., FakePlatform], tmp_path: Path) -> None:
    platform(False)
    assert run.main(["--records", "10", "--log", str(tmp_path / "run.log")]) == 1


def test_keep_running_goes_on_until_interrupted_and_any_failed_round_fails_the_run(
    platform: Callable[..., FakePlatform], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = platform(True, False, True, KeyboardInterrupt)
    assert run.main(["--records", "5", "--keep-running", "--log", str(tmp_path / "run.log")]) == 1
    assert len(fake.runs) == 4
    assert fake.forgotten == 3  # after each round that finished
    assert "stopped" in capsys.readouterr().out


def test_keep_running_with_every_round_passing_exits_0(platform: Callable[..., FakePlatform], tmp_path: Path) -> None:
    platform(True, True, KeyboardInterrupt)
    assert run.main(["--records", "5", "--keep-running", "--log", str(tmp_path / "run.log")]) == 0


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--records", "0"], "must be a positive integer, got 0"),
        (["--records", "-10"], "must be a positive integer, got -10"),
        (["--records", "ten"], "must be a whole number, got 'ten'"),
        (["--rate", "0"], "must be a number greater than 0, got 0"),
        (["--rate", "-5"], "must be a number greater than 0, got -5"),
        (["--rate", "fast"], "must be a number, got 'fast'"),
        (["--anomaly-share", "2"], "must be between 0 and 1, got 2"),
        (["--invalid-share", "-0.5"], "must be between 0 and 1, got -0.5"),
        (["--anomaly-share", "0.7", "--invalid-share", "0.4"], "add up to more than 1"),
        (["--producer", "mqtt"], "invalid choice: 'mqtt'"),
        (["--alarm-period-seconds", "0"], "must be a positive integer, got 0"),
    ],
)
def test_bad_arguments_exit_2_before_anything_starts(
    arguments: list[str], message: str, platform: Callable[..., FakePlatform], capsys: pytest.CaptureFixture[str]
) -> None:
    fake = platform()
    with pytest.raises(SystemExit) as exit_info:
        run.main(arguments)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert fake.runs == []


def test_the_summary_adds_throughput_the_loops_counters_and_the_latency_percentiles() -> None:
    fake = FakePlatform([])
    result = RunResult(
        sent=[None] * 200,  # type: ignore[list-item]
        landing=Landing(),
        ok=True,
        summary="result PASS",
        put_seconds=0.5,
        settle_seconds=2.0,
        check_seconds=0.25,
        latencies=[float(n) / 1000 for n in range(1, 201)],  # 1 ms to 200 ms
    )
    lines = run.describe(result, fake).splitlines()  # type: ignore[arg-type]
    assert lines[0] == "result PASS"
    assert lines[1] == f"{'throughput':<28}{'100':>8}   readings/s end to end (200 in 2.0 s; put 0.5 s; checks 0.2 s)"
    assert lines[2] == f"{'firehose':<28}{'10':>8}   records archived, 0 to the error prefix, 1 objects"
    assert lines[3].startswith(f"{'invocations':<28}{'3':>8}   (function errors 0")
    assert lines[4] == f"{'end-to-end latency':<28}{'':>8}   p50 100 ms, p99 199 ms (put to stored)"
