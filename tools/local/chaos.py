"""Chaos: a stage's fault injection experiment, and faults beside it, on the local platform with its alarms watching.

    python -m tools.local.chaos [--stage staging] [--faults invocation-errors,table-throttling,stalled-consumer]
                                [--rate 200] [--fault-seconds 10] [--stalled-seconds 40] [--seed 7]

It starts the local platform (``make local``'s: the emulator, the stage's templates deployed, the processor's
workers behind the local event source mapping, the alarm evaluator) and, for each fault kind in turn, streams
readings at --rate in three phases:
- before: no fault, for --fault-seconds;
- during: the fault is on while the phase's readings are put (--fault-seconds; the stalled consumer --stalled-seconds)
  and, for a fault its alarms can see while it lasts, until they have fired;
- after: no fault again, for --fault-seconds, and the alarms must all come back to OK.

The fault kinds:
- invocation-errors: the stage's FIS experiment itself (``faultInjection`` in cdk.json, its actions from
  shared/fault_injection.py, as staging's experiment template carries them): the same shares of invocations fail
  without running and start late, drawn from --seed by the function's workers;
- table-throttling: every table write of the processor throttled, as by a table out of capacity;
- stalled-consumer: the event source mapping invokes nothing while records keep coming, then resumes. Lambda publishes
  IteratorAge only for invocations, so its alarm sees the stall when the consumer resumes into the backlog, and
  only when that backlog takes 3 of the alarm's periods to drain: a shorter stall pages nobody, here as in an account.

Every phase is checked as the local run checks a round (every reading stored or quarantined, archived and alerted,
or in the failure destination for a replay: none lost), and the table must hold no reading twice. The alarms are
evaluated over 1-second periods (their evaluation periods and datapoints to alarm unchanged), the iterator-age
threshold at 2 s and batches of 25 (CHAOS_OVERRIDES), so that seconds of a fault show what minutes show in an account.
Each fault's alarm, and the stage's composite (which the bake watches), must go to ALARM during the fault and end
OK. The end-to-end latency (put to stored) is printed per phase, not judged.
Exits 0 when every fault kind held, 1 when one did not (what did not is printed), 2 on a bad argument, 3 when the
local platform failed.
"""

from __future__ import annotations

import argparse
import functools
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import boto3

from shared.config import committed_context
from shared.fault_injection import FaultAction, experiment_actions
from shared.infra.naming import PLATFORM
from shared.repository import REPO_ROOT
from shared.synthetic.readings import synthetic_records
from stages.config import load_stage
from tools.alarms.definitions import State
from tools.common.arguments import positive_number
from tools.landing.locate import duplicated_in_table
from tools.landing.producers import Sent
from tools.local.emulator import EmulatorError
from tools.local.function import InvocationFaults
from tools.local.run import (
    EXIT_CHECKS_FAILED,
    EXIT_PLATFORM_FAILED,
    EXIT_UNUSABLE,
    WRITABLE,
    Latency,
    LocalPlatform,
    PlatformError,
    RunResult,
    local_platform,
    unusable_machine,
)

FAULT_KINDS = ("invocation-errors", "table-throttling", "stalled-consumer")
ALARM_PERIOD_SECONDS = 1
# The local stage as make local deploys it, with what lets seconds stand for minutes: an iterator-age threshold that a
# stall of seconds passes, and small batches so that many invocations (and their metrics) fall in each second.
CHAOS_OVERRIDES = {
    "iot.stages.dev.observability.iteratorAgeThresholdSeconds": "2",
    "iot.stages.dev.ingest.batchSize": "25",
}
LOCAL_STAGE = "sandbox"  # the local stage is the dev stage's sandbox copy (stages/config.py: sandbox_stage)
COMPOSITE = "data-path-unhealthy"  # the stage's composite alarm, which the bake watches
ALARM_WAIT_SECONDS = 60.0  # how long a fault may take to raise its alarms, and the alarms to come back to OK
POLL_SECONDS = 0.25
# The watchdog's limit: a fault held until its alarms fire stops the data path on purpose (a throttled table stores
# nothing), for up to ALARM_WAIT_SECONDS.
STALL_SECONDS = ALARM_WAIT_SECONDS + 30


@dataclass(frozen=True, kw_only=True)
class FaultKind:
    name: str
    description: str
    symptoms: tuple[str, ...]  # the alarms (by symptom) that must go to ALARM during the fault and end OK
    seconds: float  # how long readings are put while it is on (its phase before and after: --fault-seconds)
    start: Callable[[LocalPlatform], None]
    stop: Callable[[LocalPlatform], None]
    # Whether its alarms can fire while it lasts: a stalled consumer publishes nothing until it resumes.
    seen_while_on: bool = True


def fault_kinds(
    actions: Mapping[str, FaultAction], *, seed: int, fault_seconds: float, stalled_seconds: float
) -> dict[str, FaultKind]:
    """The fault kinds by name; the invocation errors are the experiment's ``actions``. Each is on for
    ``fault_seconds``; the consumer stalls for ``stalled_seconds``."""
    experiment = InvocationFaults.of(actions, seed=seed)  # refused here, before the platform starts, if unusable

    def start_experiment(platform: LocalPlatform) -> None:
        platform.function.experiment = experiment

    def stop_experiment(platform: LocalPlatform) -> None:
        platform.function.experiment = None

    kinds = [
        FaultKind(
            name="invocation-errors",
            description=f"the experiment: {experiment.error_percent} % of invocations fail"
            f"{' without running' if experiment.prevent_execution else ''}, {experiment.delay_percent} % start "
            f"{experiment.delay_milliseconds:,} ms late",
            symptoms=("processor-errors", COMPOSITE),
            seconds=fault_seconds,
            start=start_experiment,
            stop=stop_experiment,
        ),
        FaultKind(
            name="table-throttling",
            description="every table write of the processor throttled",
            symptoms=("table-write-throttles", COMPOSITE),
            seconds=fault_seconds,
            start=lambda platform: platform.function.table_throttling.set(),
            stop=lambda platform: platform.function.table_throttling.clear(),
        ),
        FaultKind(
            name="stalled-consumer",
            description="the event source mapping invokes nothing, then resumes",
            symptoms=("processor-iterator-age", COMPOSITE),
            seconds=stalled_seconds,
            start=lambda platform: platform.mapping.stalled.set(),
            stop=lambda platform: platform.mapping.stalled.clear(),
            seen_while_on=False,
        ),
    ]
    return {kind.name: kind for kind in kinds}


@dataclass(frozen=True, kw_only=True)
class Phase:
    name: str
    readings: int
    ok: bool  # every reading where it belongs (the local run's checks)
    summary: str  # the checks' table
    to_failure_destination: int
    latency: Latency | None

    @classmethod
    def of(cls, name: str, result: RunResult) -> Phase:
        kept = [found for found in result.landing.places.values() if "failure destination" in found]
        return cls(
            name=name,
            readings=len(result.sent),
            ok=result.ok,
            summary=result.summary,
            to_failure_destination=len(kept),
            latency=Latency.of(result.latencies),
        )


@dataclass
class FaultOutcome:
    kind: FaultKind
    phases: list[Phase] = field(default_factory=list)
    changes: dict[str, list[State]] = field(default_factory=dict)  # each watched alarm's changes since the fault
    duplicated: dict[str, int] = field(default_factory=dict)  # reading id -> items in the table
    healthy_before: bool = False  # every alarm OK before the fault
    recovered: bool = False  # every alarm OK after it

    def problems(self) -> list[str]:
        """What did not hold, one line each; none when the fault kind held."""
        found = (
            []
            if self.healthy_before
            else [f"not every alarm was OK within {ALARM_WAIT_SECONDS:.0f} s before the fault"]
        )
        found += [f"{phase.name}: a reading did not land where it belongs" for phase in self.phases if not phase.ok]
        if self.duplicated:
            found.append(f"{len(self.duplicated)} reading(s) stored more than once, e.g. {next(iter(self.duplicated))}")
        for name, changes in self.changes.items():
            if State.ALARM not in changes:
                found.append(f"{name} never went to ALARM during the fault")
            elif changes[-1] is not State.OK:
                found.append(f"{name} did not come back to OK after the fault")
        if not self.recovered:
            found.append(f"not every alarm was OK within {ALARM_WAIT_SECONDS:.0f} s of the fault's end")
        return found


class Chaos:
    """The fault kinds, one after the other, on one local platform."""

    def __init__(self, platform: LocalPlatform, *, rate: float, phase_seconds: float, seed: int) -> None:
        self._platform = platform
        self._rate = rate
        self._phase_seconds = phase_seconds  # before and after a fault
        self._seed = seed
        self._evaluator = platform.alarms.evaluator
        self.started = time.time()

    def run(self, kind: FaultKind) -> FaultOutcome:
        outcome = FaultOutcome(kind=kind)
        names = [self.alarm(symptom) for symptom in kind.symptoms]
        outcome.healthy_before = self._all_ok()  # a fault starts on a healthy platform, or its alarms prove nothing
        sent: list[Sent] = []
        outcome.phases.append(self._phase("before", kind, sent, seconds=self._phase_seconds))
        since = len(self._evaluator.transitions)
        kind.start(self._platform)
        try:
            ending = functools.partial(self._end, kind, names, since)
            outcome.phases.append(self._phase("during", kind, sent, seconds=kind.seconds, after_put=ending))
        finally:
            kind.stop(self._platform)  # also when the phase failed: the next kind starts clean
        outcome.phases.append(self._phase("after", kind, sent, seconds=self._phase_seconds))
        outcome.recovered = self._all_ok()
        outcome.changes = {name: self._changes(name, since) for name in names}
        outcome.duplicated = duplicated_in_table(boto3.client("dynamodb"), self._platform.targets.table_name, sent)
        self._platform.forget_round()
        return outcome

    def alarm(self, symptom: str) -> str:
        """The local stage's alarm of ``symptom``, by its name in the stage (``iot-sandbox-processor-errors``)."""
        name = f"{PLATFORM}-{LOCAL_STAGE}-{symptom}"
        if name not in self._evaluator.names:
            raise ValueError(f"the local stage has no alarm {name}; it has {', '.join(sorted(self._evaluator.names))}")
        return name

    def _phase(
        self,
        name: str,
        kind: FaultKind,
        sent: list[Sent],
        *,
        seconds: float,
        after_put: Callable[[], None] | None = None,
    ) -> Phase:
        records = synthetic_records(
            max(1, round(self._rate * seconds)),
            run_id=f"chaos-{kind.name}-{name}",  # each run starts an empty platform: unique within it, and reproducible
            now=datetime.now(UTC),
            seed=self._seed,
        )
        result = self._platform.run(records, rate=self._rate, progress=False, after_put=after_put)
        sent.extend(result.sent)
        return Phase.of(name, result)

    def _end(self, kind: FaultKind, names: Sequence[str], since: int) -> None:
        """Hold the fault, once its readings are put, until its alarms have fired (bounded), where they can see it."""
        if kind.seen_while_on:
            self._wait(lambda: all(State.ALARM in self._changes(name, since) for name in names))
        kind.stop(self._platform)

    def _all_ok(self) -> bool:
        return self._wait(lambda: set(self._platform.alarms.evaluate_now().values()) == {State.OK})

    def _changes(self, name: str, since: int) -> list[State]:
        return [t.state for t in self._evaluator.transitions[since:] if t.alarm == name]

    @staticmethod
    def _wait(reached: Callable[[], bool]) -> bool:
        """Whether ``reached`` came true within ALARM_WAIT_SECONDS (the alarms are evaluated every half second)."""
        pause = threading.Event()
        deadline = time.monotonic() + ALARM_WAIT_SECONDS
        while not reached():
            if time.monotonic() > deadline:
                return False
            pause.wait(POLL_SECONDS)
        return True


def describe(outcome: FaultOutcome) -> str:
    kind = outcome.kind
    lines = [f"{kind.name}: {kind.description}", f"  {'phase':<8}{'readings':>9}{'landed':>8}{'failure dest.':>15}"
             f"{'p50 ms':>9}{'p99 ms':>9}   (end-to-end latency: put to stored)"]  # fmt: skip
    for phase in outcome.phases:
        latency = phase.latency
        p50, p99 = (f"{latency.p50 * 1000:,.0f}", f"{latency.p99 * 1000:,.0f}") if latency else ("-", "-")
        landed = "PASS" if phase.ok else "FAIL"
        lines.append(
            f"  {phase.name:<8}{phase.readings:>9,}{landed:>8}{phase.to_failure_destination:>15,}{p50:>9}{p99:>9}"
        )
    for name, changes in outcome.changes.items():
        lines.append(f"  {name}: {' -> '.join(changes) or 'no change'} (since the fault started)")
    lines.append(f"  stored twice: {len(outcome.duplicated)}")
    problems = outcome.problems()
    lines += [f"  FAIL: {problem}" for problem in problems] or ["  held: PASS"]
    for phase in outcome.phases:
        if not phase.ok:
            lines += [f"  {phase.name}'s checks:", *(f"    {line}" for line in phase.summary.splitlines())]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.local.chaos", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--stage",
        default="staging",
        help="the stage of cdk.json whose faultInjection experiment runs (default staging)",
    )
    parser.add_argument(
        "--faults",
        type=fault_names,
        default=list(FAULT_KINDS),
        help=f"the fault kinds to run, in order, comma-separated (default: {','.join(FAULT_KINDS)})",
    )
    parser.add_argument(
        "--rate", type=positive_number, default=200.0, help="readings per second put in every phase (default 200)"
    )
    parser.add_argument(
        "--fault-seconds",
        type=positive_number,
        default=10.0,
        help="how long each phase puts readings (default 10; a stage's experiment lasts minutes: here 1-second alarm "
        "periods stand for its minutes)",
    )
    parser.add_argument(
        "--stalled-seconds",
        type=positive_number,
        default=40.0,
        help="how long the consumer stalls while readings are put (default 40: 8,000 readings at 200/s): the backlog "
        "it leaves must take the iterator-age alarm's 3 periods to drain, or no alarm sees the stall",
    )
    parser.add_argument("--seed", type=int, default=7, help="the experiment's draws and the readings (default 7)")
    parser.add_argument(
        "--log", type=Path, default=Path("reports/chaos.log"), help="processor logs (default reports/chaos.log)"
    )
    return parser


def fault_names(raw: str) -> list[str]:
    names = [name.strip() for name in raw.split(",") if name.strip()]
    unknown = [name for name in names if name not in FAULT_KINDS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown fault kind(s) {', '.join(unknown) or '(none given)'}: choose from {', '.join(FAULT_KINDS)}"
        )
    return names


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        stage = load_stage(committed_context(), args.stage)
    except ValueError as error:  # ConfigError: an unknown stage, or a bad setting
        parser.error(f"--stage {args.stage}: {error}")
    if stage.fault_injection is None:
        parser.error(f"--stage {args.stage}: it has no faultInjection experiment in cdk.json")
    actions = experiment_actions(stage.fault_injection)
    try:
        kinds = fault_kinds(
            actions, seed=args.seed, fault_seconds=args.fault_seconds, stalled_seconds=args.stalled_seconds
        )
    except ValueError as error:
        parser.error(f"--stage {args.stage}: {error}")
    problem = unusable_machine([REPO_ROOT / name for name in WRITABLE] + [args.log.parent])
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_UNUSABLE
    listed = "; ".join(f"{name} {action.action_id} {dict(action.parameters)}" for name, action in actions.items())
    print(f"{args.stage}'s experiment (cdk.json): {listed}", flush=True)
    print(f"each phase: {args.fault_seconds:g} s at {args.rate:g} readings/s; alarms over {ALARM_PERIOD_SECONDS}-s "
          "periods. Starting the local platform ...", flush=True)  # fmt: skip
    outcomes: list[FaultOutcome] = []
    try:
        with (
            tempfile.TemporaryDirectory(prefix="chaos-assembly-") as assembly,
            local_platform(
                log_path=args.log,
                assembly_dir=Path(assembly),
                overrides=CHAOS_OVERRIDES,
                stall_seconds=STALL_SECONDS,
                alarm_period_seconds=ALARM_PERIOD_SECONDS,
            ) as platform,
        ):
            chaos = Chaos(platform, rate=args.rate, phase_seconds=args.fault_seconds, seed=args.seed)
            try:
                for name in args.faults:
                    outcomes.append(chaos.run(kinds[name]))
                    print(describe(outcomes[-1]), flush=True)
            except Exception:  # a request to a part that died fails before the watchdog's next look
                failure = platform.failed()
                if failure is None:
                    raise
                raise failure from None
            print(
                f"alarms (changes in seconds after the start):\n{platform.alarms.evaluator.report(since=chaos.started)}"
            )
    except PlatformError as error:
        print(f"error: {error.failure}; chaos stopped", file=sys.stderr)
        return EXIT_PLATFORM_FAILED
    except EmulatorError as error:
        print(f"error: the emulator could not start: {error}", file=sys.stderr)
        return EXIT_PLATFORM_FAILED
    failed = [outcome.kind.name for outcome in outcomes if outcome.problems()]
    print(f"chaos: {'FAIL (' + ', '.join(failed) + ')' if failed else 'PASS'} ({len(outcomes)} fault kinds)")
    return EXIT_CHECKS_FAILED if failed else 0


if __name__ == "__main__":
    sys.exit(main())
