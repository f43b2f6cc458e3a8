"""Fault injection: after a stage's smoke test, run the stage's AWS FIS experiment while readings flow, and prove the
stage held before the bake.

    python -m tools.steps.fault_injection --stage staging [--role-arn ARN] [--records 300] [--recovery-minutes 15]
    python -m tools.steps.fault_injection --from-environment   (in the pipeline: the outputs and role it passes)

The experiment (the observability stack's template: a share of the processor's invocations fail, another starts
late) runs to its end while the step puts synthetic readings, spread over its duration. Then:
- it must have completed: stopped by its stop condition (a data-path alarm its faults are not meant to raise) or
  failed, it fails the step;
- every reading must land, exactly as in the smoke test (stored, flagged, quarantined, archived, alerted); one the
  processor gave up on and wrote to its failure destination is kept, and named for a replay;
- the alarms its faults raise on purpose (processor errors) must have been seen in ALARM: otherwise nothing watches
  the faults;
- the stage's composite alarm must be out of ALARM within --recovery-minutes, so the bake starts on a healthy stage.
Exits 0 when the stage held, 1 with what did not, 2 on bad arguments or missing outputs. What to do when it fails:
docs/runbooks.md#fault-injection-failed.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from pipeline import step_environment as variables
from services.observability import contract as observability
from shared.infra.naming import SMOKE_RUN_PREFIX
from shared.synthetic.readings import SyntheticRecord, synthetic_records
from tools.common.arguments import positive_int, positive_number
from tools.common.aws_session import session_for
from tools.landing.locate import AlertInbox, Checks, Landing, wait_for_landing
from tools.landing.producers import Sent, put_records
from tools.landing.report import report
from tools.landing.targets import (
    MissingOutputError,
    Targets,
    add_target_source,
    outputs_from_environment,
    stack_outputs,
    target_role,
)
from tools.steps.bake import ALARM, AlarmNotFoundError, alarm_state

COMPLETED = "completed"
TERMINAL = frozenset({COMPLETED, "stopped", "failed", "cancelled"})
_ISO_DURATION = re.compile(r"PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?")


def duration_seconds(iso: str) -> float:
    """An ISO 8601 duration as FIS writes them (``PT5M``, ``PT1H30M``, ``PT90S``), in seconds."""
    match = _ISO_DURATION.fullmatch(iso)
    if not match or not any(match.groups()):
        raise ValueError(f"not an ISO 8601 duration of hours, minutes or seconds: {iso!r}")
    hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return float(hours * 3600 + minutes * 60 + seconds)


def experiment_seconds(fis: Any, template_id: str) -> float:
    """How long the template's experiment runs: its longest action."""
    actions = fis.get_experiment_template(id=template_id)["experimentTemplate"]["actions"]
    return max(duration_seconds(action["parameters"]["duration"]) for action in actions.values())


@dataclass
class ExperimentRun:
    """What happened while the experiment ran, and in the recovery after it."""

    experiment_id: str
    status: str = "pending"
    reason: str = ""
    sent: list[Sent] = field(default_factory=list)
    seen_in_alarm: set[str] = field(default_factory=set)  # the raised alarms seen in ALARM at some poll
    recovered: bool = False
    composite_state: str = ""


class Watch:
    """Reads the alarms the step watches; raised alarms seen in ALARM are remembered."""

    def __init__(self, cloudwatch: Any, *, raised: Sequence[str], composite: str) -> None:
        self._cloudwatch = cloudwatch
        self.raised = list(raised)
        self.composite = composite

    def look(self, run: ExperimentRun, log: Callable[[str], None]) -> str:
        """Every raised alarm's state (remembering ALARM) and the composite's, which it returns."""
        states = []
        for name in self.raised:
            state, _ = alarm_state(self._cloudwatch, name)
            if state == ALARM:
                run.seen_in_alarm.add(name)
            states.append(f"{name} {state}")
        composite, _ = alarm_state(self._cloudwatch, self.composite)
        log(f"  {', '.join(states)}; {self.composite} {composite}")
        return composite


def run_experiment(
    fis: Any,
    kinesis: Any,
    *,
    stream_name: str,
    template_id: str,
    records: Sequence[SyntheticRecord],
    watch: Watch,
    poll_seconds: float,
    recovery_seconds: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    log: Callable[[str], None] = print,
) -> ExperimentRun:
    """Start the experiment, put ``records`` in even chunks at each poll while it runs, watch the alarms; then watch
    them for up to ``recovery_seconds`` until the composite alarm is out of ALARM."""
    polls = max(1, math.ceil(experiment_seconds(fis, template_id) / poll_seconds))
    size = math.ceil(len(records) / polls) if records else 0
    chunks = [records[start : start + size] for start in range(0, len(records), size)] if size else []
    experiment = fis.start_experiment(experimentTemplateId=template_id, clientToken=str(uuid.uuid4()))["experiment"]
    run = ExperimentRun(experiment_id=experiment["id"])
    log(f"experiment {run.experiment_id} of template {template_id} started")
    while True:
        state = fis.get_experiment(id=run.experiment_id)["experiment"]["state"]
        run.status, run.reason = state["status"], state.get("reason", "")
        log(f"experiment {run.status}: {run.reason}")
        watch.look(run, log)
        if run.status in TERMINAL:
            break
        if chunks:
            run.sent += put_records(kinesis, stream_name, chunks.pop(0), progress=False)
        sleep(poll_seconds)
    for chunk in chunks:  # an experiment that ended early still gets every reading
        run.sent += put_records(kinesis, stream_name, chunk, progress=False)
    deadline = clock() + recovery_seconds
    while True:
        run.composite_state = watch.look(run, log)
        if run.composite_state != ALARM:
            run.recovered = True
            break
        if clock() >= deadline:
            break
        sleep(poll_seconds)
    return run


def verdict(run: ExperimentRun, *, landed: bool, landing: Landing, raised: Sequence[str]) -> tuple[bool, list[str]]:
    """Whether the stage held, and a line for each thing that did not."""
    problems = []
    if run.status != COMPLETED:
        problems.append(
            f"the experiment ended {run.status}, not completed ({run.reason}): a stopped experiment means its stop "
            "condition, a data-path alarm its faults are not meant to raise, went to ALARM"
        )
    if not landed:
        problems.append("readings were lost: see where above")
    unseen = [name for name in raised if name not in run.seen_in_alarm]
    if unseen:
        problems.append(f"never seen in ALARM while the faults lasted: {', '.join(unseen)}: nothing watches the faults")
    if not run.recovered:
        problems.append(f"the stage's composite alarm is still {run.composite_state} after the recovery time")
    kept = sum(1 for places in landing.places.values() if "failure destination" in places)
    if kept:
        problems.append(
            f"(not a failure) {kept} readings are in the failure destination, kept there for a replay: "
            "python -m tools.operations.replay --from-failures"
        )
    return not [p for p in problems if not p.startswith("(not a failure)")], problems


# --- command line -------------------------------------------------------------------------------------------------

OUTPUTS = (
    observability.Output.EXPERIMENT_TEMPLATE_ID,
    observability.Output.EXPERIMENT_RAISED_ALARM_NAMES,
    observability.Output.COMPOSITE_ALARM_NAME,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.steps.fault_injection",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_target_source(
        parser,
        stage_help="stage name: what to run and watch from iot-<stage>-* stack outputs",
        environment_help="from the pipeline's INGEST_*, ARCHIVE_*, OBSERVABILITY_* variables",
    )
    parser.add_argument("--records", type=positive_int, default=300, help="readings put while it runs (default 300)")
    parser.add_argument(
        "--recovery-minutes",
        type=positive_number,
        help="how long the composite alarm may stay in ALARM afterwards (default: "
        f"{variables.EXPERIMENT_RECOVERY_MINUTES} with --from-environment, else 15)",
    )
    parser.add_argument("--poll-seconds", type=positive_number, default=30, help="seconds between looks (default 30)")
    parser.add_argument(
        "--timeout",
        type=positive_number,
        default=900,
        help="seconds to wait for every reading; the archive needs the Firehose buffer interval (default 900)",
    )
    return parser


def _targets(args: argparse.Namespace, session: Any, environment: Mapping[str, str]) -> tuple[Targets, dict[str, str]]:
    """Where readings go and land, and the observability stack's outputs the step needs (all of them, or it raises)."""
    if args.from_environment:
        targets = Targets.from_environment(environment)
        outputs = outputs_from_environment(environment, observability.SERVICE, observability.Output)
    else:
        targets = Targets.from_stage(session, args.stage)
        outputs = stack_outputs(session, args.stage, observability.SERVICE)
    missing = [str(key) for key in OUTPUTS if not outputs.get(key)]
    if missing:
        raise MissingOutputError(f"the observability stack has no outputs {missing}: no experiment in this stage")
    targets.require_archive()
    targets.require_alert_inbox()
    return targets, outputs


def main(argv: list[str] | None = None, environment: Mapping[str, str] = os.environ) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    role_arn = target_role(parser, args, environment)
    recovery_minutes = args.recovery_minutes
    if recovery_minutes is None:
        configured = environment.get(variables.EXPERIMENT_RECOVERY_MINUTES) if args.from_environment else None
        recovery_minutes = float(configured) if configured else 15.0
    session = session_for(role_arn, session_name="iot-fault-injection")
    try:
        targets, outputs = _targets(args, session, environment)
    except MissingOutputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except ClientError as error:
        print(f"error: cannot read the outputs of stage {args.stage!r}: {error}", file=sys.stderr)
        return 2
    raised = outputs[observability.Output.EXPERIMENT_RAISED_ALARM_NAMES].split(",")
    run_id = f"{SMOKE_RUN_PREFIX}fis-{uuid.uuid4().hex[:8]}"
    records = synthetic_records(
        args.records, run_id=run_id, now=datetime.now(UTC), anomaly_share=0.05, invalid_share=0.03
    )
    watch = Watch(
        session.client("cloudwatch"), raised=raised, composite=outputs[observability.Output.COMPOSITE_ALARM_NAME]
    )
    try:
        run = run_experiment(
            session.client("fis"),
            session.client("kinesis"),
            stream_name=targets.stream_name,
            template_id=outputs[observability.Output.EXPERIMENT_TEMPLATE_ID],
            records=records,
            watch=watch,
            poll_seconds=args.poll_seconds,
            recovery_seconds=recovery_minutes * 60,
        )
    except AlarmNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    checks = Checks(archive=True, alerts=AlertInbox(session.client("sqs"), targets.require_alert_inbox()))
    landing = wait_for_landing(session, targets, run.sent, checks=checks, timeout=args.timeout)
    text, landed = report(run.sent, landing, checks=checks)
    print(text)
    held, problems = verdict(run, landed=landed, landing=landing, raised=raised)
    for problem in problems:
        print(problem, file=sys.stdout if problem.startswith("(not a failure)") else sys.stderr)
    if not held:
        print("FAULT INJECTION FAILED: see docs/runbooks.md#fault-injection-failed", file=sys.stderr)
        return 1
    print(f"fault injection passed: experiment {run.experiment_id} completed and the stage held")
    return 0


if __name__ == "__main__":
    sys.exit(main())
