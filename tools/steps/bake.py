"""Bake: after a stage's smoke test, its composite alarm must stay out of ALARM for a while, or the pipeline stops.

    python -m tools.steps.bake --alarm-name iot-staging-data-path-unhealthy --minutes 30 [--role-arn ARN] \
        [--poll-seconds 60]
    python -m tools.steps.bake --from-environment   (in the pipeline: the alarm, role and minutes it passes)

Polls the alarm every ``--poll-seconds`` until ``--minutes`` have passed. Exits 1 as soon as it reads ALARM
(with the alarm's reason), 2 when the alarm does not exist or an argument is bad, 0 when the whole period
passed without ALARM.
INSUFFICIENT_DATA is reported but does not fail the bake: the data-path alarms treat missing data as healthy.
The pipeline runs it from the tooling account through the stage's smoke-test role; what to do when it fails is
in docs/runbooks.md#bake-failed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pipeline import step_environment as variables
from services.observability import contract as observability
from shared.infra.naming import output_variable
from tools.common.arguments import non_negative_number, positive_number
from tools.common.aws_session import session_for
from tools.landing.targets import ROLE_VARIABLE

ALARM = "ALARM"


class AlarmNotFoundError(LookupError):
    pass


@dataclass
class BakeResult:
    passed: bool
    states: list[tuple[float, str]] = field(default_factory=list)  # (seconds since start, state)
    reason: str = ""


def alarm_state(cloudwatch: Any, alarm_name: str) -> tuple[str, str]:
    """(state, reason) of a composite or metric alarm named ``alarm_name``."""
    response = cloudwatch.describe_alarms(AlarmNames=[alarm_name], AlarmTypes=["CompositeAlarm", "MetricAlarm"])
    found = [*response.get("CompositeAlarms", []), *response.get("MetricAlarms", [])]
    if not found:
        raise AlarmNotFoundError(f"no alarm named {alarm_name!r} in this account and region")
    return str(found[0]["StateValue"]), str(found[0].get("StateReason", ""))


def bake(
    cloudwatch: Any,
    alarm_name: str,
    *,
    minutes: float,
    poll_seconds: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    log: Callable[[str], None] = print,
) -> BakeResult:
    started = clock()
    result = BakeResult(passed=True)
    while True:
        elapsed = clock() - started
        state, reason = alarm_state(cloudwatch, alarm_name)
        result.states.append((elapsed, state))
        log(f"{elapsed / 60:6.1f} min  {alarm_name}: {state}")
        if state == ALARM:
            return BakeResult(passed=False, states=result.states, reason=reason)
        remaining = minutes * 60 - elapsed
        if remaining <= 0:
            return result
        sleep(min(poll_seconds, remaining))


ALARM_VARIABLE = output_variable(observability.SERVICE, observability.Output.COMPOSITE_ALARM_NAME)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.steps.bake", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--from-environment",
        action="store_true",
        help=f"in the pipeline: the alarm from {ALARM_VARIABLE}, the role from {ROLE_VARIABLE}, the minutes from "
        f"{variables.BAKE_MINUTES} (each flag given still wins)",
    )
    parser.add_argument("--alarm-name", help="the alarm to watch (the stage's composite alarm)")
    parser.add_argument("--minutes", type=non_negative_number, help="how long the alarm must stay out of ALARM")
    parser.add_argument("--role-arn", help="assume this role first (the stage's SmokeTestRoleArn)")
    parser.add_argument("--poll-seconds", type=positive_number, default=60, help="seconds between reads (default 60)")
    return parser


def main(argv: list[str] | None = None, environment: Mapping[str, str] = os.environ) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.from_environment:
        args.alarm_name = args.alarm_name or environment.get(ALARM_VARIABLE)
        args.role_arn = args.role_arn or environment.get(ROLE_VARIABLE)
        if args.minutes is None and environment.get(variables.BAKE_MINUTES):
            try:
                args.minutes = non_negative_number(environment[variables.BAKE_MINUTES])
            except argparse.ArgumentTypeError as error:
                parser.error(f"{variables.BAKE_MINUTES} {error}")
    if not args.alarm_name:
        parser.error(f"--alarm-name (or --from-environment with {ALARM_VARIABLE}) is required")
    if args.minutes is None:
        parser.error(f"--minutes (or --from-environment with {variables.BAKE_MINUTES}) is required")
    cloudwatch = session_for(args.role_arn, session_name="iot-bake").client("cloudwatch")
    try:
        result = bake(cloudwatch, args.alarm_name, minutes=args.minutes, poll_seconds=args.poll_seconds)
    except AlarmNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not result.passed:
        print(f"BAKE FAILED: {args.alarm_name} went to ALARM: {result.reason}", file=sys.stderr)
        print("see docs/runbooks.md#bake-failed", file=sys.stderr)
        return 1
    print(f"bake passed: {args.alarm_name} stayed out of ALARM for {args.minutes:g} minutes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
