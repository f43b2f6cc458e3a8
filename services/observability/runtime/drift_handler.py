"""Lambda entry point of the scheduled drift check: settings, clients and the publish; the logic is drift.py's.

EventBridge invokes it on the stage's schedule. It checks the stage's stacks and, when one drifted, failed detection
or is missing, publishes the message to the stage's ops topic. Nothing is published when all is in sync. An error
raises: Lambda retries the invocation, and the function's error alarm tells ops (docs/runbooks.md#drift-check-failed).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3

from services.observability.runtime.drift import DriftError, IgnoreRule, check_stage, parse_rules, render_message

if TYPE_CHECKING:
    from mypy_boto3_cloudformation.client import CloudFormationClient
    from mypy_boto3_sns.client import SNSClient

STAGE_NAME = "STAGE_NAME"
STACK_NAMES = "STACK_NAMES"  # comma-separated
TOPIC_ARN = "TOPIC_ARN"
IGNORE_RULES = "IGNORE_RULES"  # drift.encode_rules
# Kept back from the invocation's remaining time for the resource drifts, the message and the publish.
FINISH_SECONDS = 60


@dataclass(frozen=True, kw_only=True)
class Settings:
    stage: str
    stacks: tuple[str, ...]
    topic_arn: str
    rules: tuple[IgnoreRule, ...]

    @classmethod
    def from_environment(cls, environment: Mapping[str, str] = os.environ) -> Settings:
        def required(name: str) -> str:
            value = environment.get(name, "").strip()
            if not value:
                raise DriftError(f"environment variable {name} is not set")
            return value

        return cls(
            stage=required(STAGE_NAME),
            stacks=tuple(name.strip() for name in required(STACK_NAMES).split(",") if name.strip()),
            topic_arn=required(TOPIC_ARN),
            rules=parse_rules(environment.get(IGNORE_RULES) or "[]"),
        )


def run(
    settings: Settings, *, cloudformation: CloudFormationClient, sns: SNSClient, remaining_seconds: float
) -> dict[str, Any]:
    report = check_stage(
        cloudformation,
        stage=settings.stage,
        stacks=settings.stacks,
        rules=settings.rules,
        deadline_seconds=max(remaining_seconds - FINISH_SECONDS, 0),
    )
    message = render_message(report)
    if report.needs_attention:
        sns.publish(TopicArn=settings.topic_arn, Subject=message.subject, Message=message.body)
    return {
        "stage": report.stage,
        "published": report.needs_attention,
        "stacks": {stack.stack: str(stack.verdict) for stack in report.stacks},
    }


def lambda_handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:  # noqa: ARG001 - the schedule's event
    return run(
        Settings.from_environment(),
        cloudformation=boto3.client("cloudformation"),
        sns=boto3.client("sns"),
        remaining_seconds=context.get_remaining_time_in_millis() / 1000,
    )
