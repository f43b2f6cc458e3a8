"""The local run's own logic: what it waits for before checking where the readings landed, what it prints, and how
the main job exits (over a stand-in platform; tests/test_end_to_end.py runs the real one)."""

from __future__ import annotations

import argparse
import errno
import gc
import itertools
import os
import re
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from shared.synthetic.fleets import FleetMix
from shared.synthetic.readings import synthetic_records
from tools.alarms.definitions import State
from tools.common.testing import documented_help, printed_help
from tools.landing.locate import Landing
from tools.landing.producers import Sent
from tools.local import run
from tools.local.emulator import EmulatorError
from tools.local.run import PlatformError, RunResult, Whereabouts, build_workload, last_put, round_sizes


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
        self.deployed = SimpleNamespace(
            stacks={"ingest": SimpleNamespace(name="iot-sandbox-ingest"), "archive": SimpleNamespace(name="archive")}
        )
        self.targets = SimpleNamespace(require_archive=lambda: "raw-bucket")
        self.endpoint = "http://127.0.0.1:4566"
        self.round_start = Whereabouts(put=0, read=0, settled=0, archived=0)
        self.failure: PlatformError | None = None
        self.watchdog = SimpleNamespace(stop=lambda: None)
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
            sent=cast(list[Sent], [None] * len(records)),  # only counted
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

    def whereabouts(self) -> Whereabouts:
        return Whereabouts(put=40, read=30, settled=20, archived=10)

    def failed(self) -> PlatformError | None:
        return self.failure

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
        monkeypatch.setattr(run, "stop_stale", lambda _: None)
        monkeypatch.setattr(run, "copy_archive", lambda _s3, bucket, stack, target: 3 if bucket == "raw-bucket" else 0)
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
    assert "deployed iot-sandbox-ingest, archive in " in out
    assert "result PASS" in out
    assert re.search(
        r"alarms \(evaluated over the run in [\d.]+ s; changes in seconds after the start\):\n  alarm report", out
    )
    assert re.search(rf"dashboard: {re.escape(str(page))} \(drawn in [\d.]+ s\)", out)
    assert page.read_text() == "<html>result PASS</html>"
    assert f"processor logs: {log}; total " in out
    assert "raw archive: 3 objects copied to " in out
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
    out = capsys.readouterr().out
    assert "interrupted after 3 complete round(s); the round under way had got this far:" in out
    assert f"{'put':<28}{'40':>8}   readings this round" in out


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
        (["--fleet", "sleepy=5"], "argument --fleet: unknown profile 'sleepy'"),
        (["--fleet", "steady=0"], "argument --fleet: the weights add up to 0"),
        (["--fleet", "steady=70", "--anomaly-share", "0.1"], "--anomaly-share does not apply to --fleet"),
        (["--seed", "seven"], "argument --seed: invalid int value: 'seven'"),
        (["--port", "65536"], "must be a port from 1 to 65535, or 0 for any free one; got 65536"),
        (["--port", "-1"], "must be a port from 1 to 65535, or 0 for any free one; got -1"),
        (["--port", "http"], "must be a port number, got 'http'"),
        (["--stall-seconds", "0"], "must be a number greater than 0, got 0"),
        (["--round-size", "0"], "must be a positive integer, got 0"),
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


def test_the_help_is_what_docs_command_lines_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    assert printed_help(run.main, monkeypatch) == documented_help("tools.local.run")


def test_the_workload_is_a_fleet_when_one_is_asked_for_and_the_seed_replays_it() -> None:
    now = datetime(2026, 11, 27, 12, tzinfo=UTC)

    def workload(*arguments: str) -> list[bytes]:
        args = argparse.Namespace(fleet=None, seed=7, anomaly_share=0.01, invalid_share=0.0)
        parsed = argparse.Namespace(**vars(args) | {"fleet": FleetMix.parse(arguments[0]) if arguments else None})
        return [record.data for record in build_workload(parsed, count=300, run_id="unit", now=now)]

    fleet = workload("flush=1")
    assert fleet == workload("flush=1")
    assert len(fleet) == 300
    assert all(b"-flush-" in data for data in fleet)
    assert not any(b"-flush-" in data for data in workload())


def test_each_round_has_a_seed_of_its_own_after_the_runs() -> None:
    now = datetime(2026, 11, 27, 12, tzinfo=UTC)
    args = argparse.Namespace(fleet=None, seed=7, anomaly_share=0.01, invalid_share=0.5)

    def data(seed: int, round_: int) -> list[bytes]:
        with_seed = argparse.Namespace(**vars(args) | {"seed": seed})
        return [r.data for r in build_workload(with_seed, count=50, run_id="unit", now=now, round_=round_)]

    assert data(7, 1) == data(8, 0)
    assert data(7, 1) != data(7, 0)


@pytest.mark.parametrize(
    ("records", "round_size", "sizes"),
    [
        (10, 4, [4, 4, 2]),
        (8, 4, [4, 4]),
        (4, 4, [4]),
        (3, 4, [3]),
        (1, 1, [1]),
    ],
)
def test_a_run_is_put_in_rounds_of_at_most_the_round_size(records: int, round_size: int, sizes: list[int]) -> None:
    assert list(round_sizes(records, round_size=round_size, keep_running=False)) == sizes


def test_keep_running_rounds_never_end_and_are_at_most_the_round_size() -> None:
    assert list(itertools.islice(round_sizes(10, round_size=4, keep_running=True), 5)) == [4] * 5
    assert list(itertools.islice(round_sizes(3, round_size=4, keep_running=True), 3)) == [3] * 3


def test_a_big_run_is_checked_round_by_round_and_any_failed_round_fails_it(
    platform: Callable[..., FakePlatform], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = platform(True, False, True)
    arguments = ["--records", "25", "--round-size", "10", "--log", str(tmp_path / "run.log")]
    assert run.main(arguments) == 1
    assert [records for records, _, _ in fake.runs] == [10, 10, 5]
    assert fake.forgotten == 3  # each round's records dropped once it is checked
    assert "all rounds: 25 readings in 3 round(s): FAIL (round 2)" in capsys.readouterr().out


def test_a_big_run_whose_rounds_all_pass_exits_0(
    platform: Callable[..., FakePlatform], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    platform(True, True)
    assert run.main(["--records", "20", "--round-size", "10", "--log", str(tmp_path / "run.log")]) == 0
    assert "all rounds: 20 readings in 2 round(s): PASS" in capsys.readouterr().out


# --- the usual faults of a laptop: one clear line each, exit 2 ------------------------------------------------------


def test_without_node_the_run_says_so_before_starting_anything(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setattr(run.shutil, "which", lambda name: None if name == "node" else f"/usr/bin/{name}")  # type: ignore[attr-defined]
    monkeypatch.setattr(run, "local_platform", lambda **_: pytest.fail("the platform was started"))
    assert run.main(["--log", str(tmp_path / "run.log")]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "error: node is not on PATH: the local run synthesizes the stage with the CDK, which needs Node.js 18 or newer"
    ]


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (errno.EROFS, "Read-only file system"),
        (errno.ENOSPC, "No space left on device"),
        (errno.EACCES, "Permission denied"),
    ],
)
def test_a_directory_it_cannot_write_is_named_with_the_reason(
    error: int, reason: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def refuse(**options: Any) -> Any:
        raise OSError(error, os.strerror(error))

    monkeypatch.setattr(run.tempfile, "NamedTemporaryFile", refuse)  # type: ignore[attr-defined]
    assert run.unusable_machine([tmp_path / "build"]) == (
        f"cannot write to {tmp_path / 'build'} ({reason}): the local run keeps its stage, code and logs there"
    )


def test_a_machine_with_node_and_writable_directories_can_run_it(tmp_path: Path) -> None:
    assert run.unusable_machine([tmp_path / "build", tmp_path / "reports"]) is None
    assert (tmp_path / "build").is_dir()
    assert list((tmp_path / "build").iterdir()) == []  # the probe leaves nothing behind


def test_a_port_in_use_is_one_line_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert run.main(["--port", str(port), "--log", str(tmp_path / "run.log")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"error: cannot listen on 127.0.0.1:{port}: Address already in use: another program (or an earlier run) "
        "holds it; choose another --port"
    )


def test_a_stale_emulator_is_stopped_and_said_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setattr(run, "stop_stale", lambda pid_file: 4242 if pid_file == run.PID_FILE else None)
    monkeypatch.setattr(run, "local_platform", _raising_platform)
    run.main(["--log", str(tmp_path / "run.log")])
    assert capsys.readouterr().out.splitlines()[0] == "stopped a stale emulator an earlier run left behind (pid 4242)"


@contextmanager
def _raising_platform(**_: Any) -> Iterator[Any]:
    raise EmulatorError("stopped here")
    yield  # pragma: no cover - a generator that never yields
