"""The drift check's role reads what CloudFormation's drift detection reads, for every resource type of the stage.

CloudFormation detects drift with the caller's credentials. What it reads per type is the read handler of that type's
schema in the CloudFormation registry; cfn-lint ships those schemas (the pinned version in uv.lock; ADR 0012). A new
resource type in any stack of a stage, or a schema that reads more after an upgrade, fails here until the drift
check's role (services/observability/infra/drift_check.py) grants it, or says why not.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any

import pytest
from aws_cdk.assertions import Template

from services.observability import contract as observability
from services.observability.runtime.drift import UNREAD_TYPES
from stages.iot_stage import IotStage

pytestmark = pytest.mark.synth  # reads the synthesized app: not in `make unit`

# No drift detection, nothing to read.
NOT_DRIFT_CHECKED = frozenset({"AWS::CDK::Metadata"})
# Types the registry has no read handler for: the call that returns their document.
WITHOUT_HANDLER = {
    "AWS::IAM::Policy": {"iam:GetRolePolicy"},
    "AWS::SNS::TopicPolicy": {"sns:GetTopicAttributes"},
    "AWS::SQS::QueuePolicy": {"sqs:GetQueueAttributes"},
}
# Asked for by some read handler, never granted: each reads data or changes something.
NEVER_GRANTED = frozenset(
    {
        "secretsmanager:GetSecretValue",
        "kms:Decrypt",
        "glue:CreateTable",
        "lakeformation:CreateTable",
        "lakeformation:GetDataAccess",
        "iam:PassRole",
    }
)
READ_STATEMENT = "ReadTheStacksResourcesConfiguration"


@cache
def read_handler(resource_type: str) -> frozenset[str]:
    """What the type's registry read handler asks for (eu-west-1's schemas, where the stages run)."""
    if resource_type in WITHOUT_HANDLER:
        return frozenset(WITHOUT_HANDLER[resource_type])
    schemas = files("cfnlint") / "data" / "schemas"
    index: dict[str, str] = json.loads((schemas / "providers" / "eu-west-1.json").read_text(encoding="utf-8"))
    schema: dict[str, Any] = json.loads((schemas / "resources" / f"{index[resource_type]}.json").read_text())
    return frozenset(schema["handlers"]["read"]["permissions"])


def stage_types(stage: IotStage) -> set[str]:
    return {
        resource["Type"]
        for stack in stage.service_stacks
        for resource in Template.from_stack(stack).to_json()["Resources"].values()
    }


def granted(stage: IotStage) -> set[str]:
    """The actions of the drift check role's read statement, from the stage's synthesized observability stack."""
    template = Template.from_stack(stage.observability).to_json()
    (statement,) = [
        statement
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::IAM::Policy"
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
        if statement.get("Sid") == READ_STATEMENT
    ]
    return set(statement["Action"])


def needed(types: set[str]) -> set[str]:
    checked = types - NOT_DRIFT_CHECKED - set(UNREAD_TYPES)
    return set().union(*(read_handler(t) for t in checked)) - NEVER_GRANTED


def test_the_drift_check_watches_every_stack_of_its_stage(stages: list[IotStage]) -> None:
    for stage in stages:
        assert observability.drift_checked_stacks(stage.config.name) == tuple(
            s.stack_name for s in stage.service_stacks
        )


def test_the_role_may_read_every_resource_type_of_its_stage(stages: list[IotStage]) -> None:
    for stage in stages:
        missing = needed(stage_types(stage)) - granted(stage)
        assert not missing, f"{stage.config.name}: drift detection needs {sorted(missing)}"


def test_the_role_reads_nothing_no_stage_needs(stages: list[IotStage]) -> None:
    used = set().union(*(stage_types(stage) for stage in stages))
    for stage in stages:
        assert granted(stage) - needed(used) == set(), stage.config.name


def test_what_would_read_data_is_never_granted(stages: list[IotStage]) -> None:
    asked = set().union(*(read_handler(t) for t in stage_types(stages[0]) - NOT_DRIFT_CHECKED))
    assert asked & NEVER_GRANTED, "the schemas no longer ask for any of them: the exclusions can go"
    for stage in stages:
        assert not granted(stage) & NEVER_GRANTED


def test_a_type_left_unread_is_one_whose_read_would_read_data() -> None:
    for resource_type in UNREAD_TYPES:
        assert read_handler(resource_type) & NEVER_GRANTED, resource_type
