"""Bake: after a stage's smoke test, its composite alarm must stay out of ALARM for a while, or the pipeline stops.

    python -m tools.bake --alarm-name iot-staging-data-path-unhealthy --minutes 30 [--role-arn ARN] [--poll-seconds 60]

Polls the alarm every ``--poll-seconds`` until ``--minutes`` have passed. Exits 1 as soon as it reads ALARM
(with the alarm's reason), 2 when the alarm does not exist, 0 when the whole period passed without ALARM.
INSUFFICIENT_DATA is reported but does not fail the bake: the data-path alarms treat missing data as healthy.
The pipeline runs it from the tooling account through the stage's smoke-test role; what to do when it fails is
in docs/runbooks.md#bake-failed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tools.aws_session import session_for

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--alarm-name", default=os.environ.get("OBSERVABILITY_COMPOSITEALARMNAME"))
    parser.add_argument("--minutes", type=float, required=True, help="how long the alarm must stay out of ALARM")
    parser.add_argument("--role-arn", help="assume this role first (the stage's SmokeTestRoleArn)")
    parser.add_argument("--poll-seconds", type=float, default=60, help="seconds between reads (default 60)")
    args = parser.parse_args(argv)
    if not args.alarm_name:
        parser.error("--alarm-name (or OBSERVABILITY_COMPOSITEALARMNAME) is required")
    if args.minutes < 0 or args.poll_seconds <= 0:
        parser.error("--minutes must be 0 or more and --poll-seconds more than 0")
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
