"""The last step of every stage: record in the stage's account what it now runs.

    python -m tools.steps.record_deployment --stage dev --commit SHA --execution-id ID --assembly cdk.out \
        [--role-arn ARN]
    python -m tools.steps.record_deployment --from-environment --assembly cdk.out   (in the pipeline)

Writes the commit, the digest of the cloud assembly's manifests and templates, the pipeline execution and the time to
the stage's SSM parameter ``/iot/<stage>/observability/deployment-record`` (overwriting the last record), through the
stage's smoke-test role, which may write that parameter and no other. ``make environments`` reads it.
Exits 0 when the record is written, 1 when AWS refuses it, 2 on a bad or missing argument.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from pipeline import step_environment as variables
from tools.common.aws_session import session_for
from tools.common.deployment_record import DeploymentRecord, RecordError, assembly_digest
from tools.landing.targets import ROLE_VARIABLE

if TYPE_CHECKING:
    from mypy_boto3_ssm.client import SSMClient

DESCRIPTION = "What the pipeline last deployed to this stage and checked (tools/steps/record_deployment.py)"


def write_record(ssm: SSMClient, record: DeploymentRecord) -> None:
    ssm.put_parameter(
        Name=record.parameter, Value=record.to_json(), Type="String", Overwrite=True, Description=DESCRIPTION
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.steps.record_deployment",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--from-environment",
        action="store_true",
        help=f"in the pipeline: the stage from {variables.STAGE_NAME}, the commit from {variables.DEPLOYED_COMMIT}, "
        f"the execution from {variables.PIPELINE_EXECUTION_ID}, the role from {ROLE_VARIABLE} (each flag still wins)",
    )
    parser.add_argument("--stage", help="the stage deployed")
    parser.add_argument("--commit", help="the commit it was deployed from (40 hex digits)")
    parser.add_argument("--execution-id", help="the pipeline execution that deployed it")
    parser.add_argument("--assembly", type=Path, required=True, help="the cloud assembly deployed (cdk.out)")
    parser.add_argument("--role-arn", help="assume this role in the stage's account first (its smoke-test role)")
    return parser


def main(
    argv: list[str] | None = None,
    environment: Mapping[str, str] = os.environ,
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.from_environment:
        args.stage = args.stage or environment.get(variables.STAGE_NAME)
        args.commit = args.commit or environment.get(variables.DEPLOYED_COMMIT)
        args.execution_id = args.execution_id or environment.get(variables.PIPELINE_EXECUTION_ID)
        args.role_arn = args.role_arn or environment.get(ROLE_VARIABLE)
    for flag, value, variable in (
        ("--stage", args.stage, variables.STAGE_NAME),
        ("--commit", args.commit, variables.DEPLOYED_COMMIT),
        ("--execution-id", args.execution_id, variables.PIPELINE_EXECUTION_ID),
    ):
        if not value:
            parser.error(f"{flag} (or --from-environment with {variable}) is required")
    try:
        record = DeploymentRecord(
            stage=args.stage,
            commit=args.commit,
            assembly_digest=assembly_digest(args.assembly),
            pipeline_execution_id=args.execution_id,
            recorded_at=now(),
        )
    except RecordError as error:
        parser.error(str(error))
    try:
        write_record(session_for(args.role_arn, session_name="iot-record-deployment").client("ssm"), record)
    except (BotoCoreError, ClientError) as error:
        print(f"error: could not record what stage {record.stage} runs in {record.parameter}: {error}", file=sys.stderr)
        return 1
    print(f"stage {record.stage} runs {record.commit} ({record.assembly_digest}), recorded in {record.parameter}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
