"""Where a stage's readings land: its stream, table and buckets, found from its stack outputs."""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from services.iot_archive import contract as archive
from services.iot_processor import contract as ingest
from shared.infra.naming import output_variable, stack_name

# What a smoke test cannot do without; the alert inbox and the archive are checked where asked for.
REQUIRED = (
    ingest.Output.STREAM_NAME,
    ingest.Output.TABLE_NAME,
    ingest.Output.PROCESSED_BUCKET_NAME,
    ingest.Output.FAILURE_BUCKET_NAME,
)


# The stage role a step assumes, as the pipeline passes it (the ingest stack's SmokeTestRoleArn output).
ROLE_VARIABLE = output_variable(ingest.SERVICE, ingest.Output.SMOKE_TEST_ROLE_ARN)


def add_target_source(parser: argparse.ArgumentParser, *, stage_help: str, environment_help: str) -> None:
    """Where a step finds its stage: its stacks' outputs by ``--stage``, or the pipeline's variables; and the role."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--stage", help=stage_help)
    source.add_argument(
        "--from-environment", action="store_true", help=f"{environment_help}, the role from {ROLE_VARIABLE}"
    )
    parser.add_argument("--role-arn", help="assume this role first (the stage's SmokeTestRoleArn)")


def target_role(
    parser: argparse.ArgumentParser, args: argparse.Namespace, environment: Mapping[str, str]
) -> str | None:
    """The role to assume: ``--role-arn``, else in the pipeline the variable it passes, which it must then pass."""
    role_arn: str | None = args.role_arn or (environment.get(ROLE_VARIABLE) if args.from_environment else None)
    if args.from_environment and not role_arn:
        parser.error(f"--from-environment needs the smoke-test role: set {ROLE_VARIABLE} or pass --role-arn")
    return role_arn


class MissingOutputError(LookupError):
    """A stack output the caller needs is not there: the stage is not (fully) deployed, or not this version."""


@dataclass(frozen=True, kw_only=True)
class Targets:
    stream_name: str
    table_name: str
    processed_bucket: str
    failure_bucket: str
    archive_bucket: str | None
    alert_inbox_url: str | None = None

    @classmethod
    def from_outputs(cls, ingest_outputs: Mapping[str, str], archive_outputs: Mapping[str, str] | None) -> Targets:
        """From the ingest and archive stacks' outputs; raises naming each required output that is missing."""
        missing = [str(key) for key in REQUIRED if not ingest_outputs.get(key)]
        if missing:
            raise MissingOutputError(f"the ingest stack has no outputs {missing}")
        return cls(
            stream_name=ingest_outputs[ingest.Output.STREAM_NAME],
            table_name=ingest_outputs[ingest.Output.TABLE_NAME],
            processed_bucket=ingest_outputs[ingest.Output.PROCESSED_BUCKET_NAME],
            failure_bucket=ingest_outputs[ingest.Output.FAILURE_BUCKET_NAME],
            archive_bucket=(archive_outputs or {}).get(archive.Output.RAW_BUCKET_NAME) or None,
            alert_inbox_url=ingest_outputs.get(ingest.Output.ALERT_INBOX_URL) or None,
        )

    def require_archive(self) -> str:
        if not self.archive_bucket:
            raise MissingOutputError(f"the archive stack has no {archive.Output.RAW_BUCKET_NAME} output")
        return self.archive_bucket

    def require_alert_inbox(self) -> str:
        if not self.alert_inbox_url:
            raise MissingOutputError(f"the ingest stack has no {ingest.Output.ALERT_INBOX_URL} output")
        return self.alert_inbox_url

    @classmethod
    def from_stage(cls, session: Any, stage: str) -> Targets:
        """From the deployed stacks ``iot-<stage>-ingest`` and ``iot-<stage>-archive``."""
        return cls.from_outputs(
            stack_outputs(session, stage, ingest.SERVICE), stack_outputs(session, stage, archive.SERVICE)
        )

    @classmethod
    def from_environment(cls, environment: Mapping[str, str]) -> Targets:
        """From the variables the pipeline gives its steps (``INGEST_STREAMNAME``, ...)."""
        return cls.from_outputs(
            outputs_from_environment(environment, ingest.SERVICE, ingest.Output),
            outputs_from_environment(environment, archive.SERVICE, archive.Output),
        )


def stack_outputs(session: Any, stage: str, service: str) -> dict[str, str]:
    """Every output of one service's stack in ``stage``, by key."""
    cloudformation = session.client("cloudformation")
    stack = cloudformation.describe_stacks(StackName=stack_name(stage, service))["Stacks"][0]
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


def outputs_from_environment(environment: Mapping[str, str], service: str, outputs: Iterable[str]) -> dict[str, str]:
    """The outputs of ``service`` (its contract's ``Output`` enum) that the pipeline passed as variables."""
    found = {key: environment.get(output_variable(service, key), "") for key in outputs}
    return {str(key): value for key, value in found.items() if value}
