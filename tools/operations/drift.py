"""``make drift STAGE=<name>``: the stage's scheduled drift check, run now from a laptop with the caller's credentials.

    python -m tools.operations.drift --stage prod [--stacks iot-prod-ingest,...] [--role-arn ARN]
        [--deadline-minutes 10]

The same logic as the stage's drift Lambda (services/observability/runtime/drift.py): CloudFormation's drift detection
on every stack of the stage (or those named), the stage's ignore rules from cdk.json, and the message the ops topic
would receive, printed instead of published. The credentials need what the Lambda's role has (a read-only operator
role of the stage's account will do); ``--role-arn`` assumes a role first.

Exits 0 when every stack is in sync; 1 when one drifted, failed detection or is missing; 3 when none drifted but one
could not be checked (a deploy is running); 2 on a bad argument or when AWS cannot be called (no credentials, a role
that may not be assumed).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from pipeline.config import PlatformConfig, load_platform_config
from services.observability import contract as observability
from services.observability.runtime.drift import check_stage, render_message
from shared.config import ConfigError, committed_context
from tools.common.arguments import positive_number
from tools.common.aws_session import session_for

IN_SYNC, ATTENTION, USAGE, INCOMPLETE = 0, 1, 2, 3
SessionFactory = Callable[..., boto3.Session]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.operations.drift",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--stage", required=True, help="a stage of iot.stages in cdk.json (dev, staging, prod)")
    parser.add_argument("--stacks", default="", help="comma-separated stacks of the stage to check (default: all)")
    parser.add_argument("--role-arn", help="assume this role in the stage's account first")
    parser.add_argument(
        "--deadline-minutes",
        type=positive_number,
        default=10,
        help="how long to wait for CloudFormation's detections (default 10)",
    )
    return parser


def main(
    argv: list[str] | None = None,
    *,
    config: PlatformConfig | None = None,
    session: SessionFactory = session_for,
) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        platform = config or load_platform_config(committed_context())
        stage = platform.stage(args.stage)
    except ConfigError as error:
        parser.error(str(error))
    stage_stacks = observability.drift_checked_stacks(stage.name)
    wanted = tuple(name.strip() for name in args.stacks.split(",") if name.strip()) or stage_stacks
    if unknown := [name for name in wanted if name not in stage_stacks]:
        parser.error(
            f"--stacks: {', '.join(unknown)} not of stage {stage.name} (its stacks: {', '.join(stage_stacks)})"
        )
    try:
        cloudformation = session(args.role_arn, session_name="iot-drift-check").client(
            "cloudformation", region_name=stage.region
        )
        report = check_stage(
            cloudformation,
            stage=stage.name,
            stacks=wanted,
            rules=stage.observability.drift.ignore,
            deadline_seconds=args.deadline_minutes * 60,
        )
    except (BotoCoreError, ClientError) as error:
        print(f"error: cannot check the {stage.name} stacks: {error}", file=sys.stderr)
        return USAGE
    message = render_message(report)
    print(message.subject, message.body, sep="\n\n", end="")
    if report.needs_attention:
        return ATTENTION
    return IN_SYNC if report.all_checked else INCOMPLETE


if __name__ == "__main__":
    sys.exit(main())
