"""The drift check's role reads what CloudFormation's drift detection reads, for every resource type of the stage.

CloudFormation detects drift with the caller's credentials. What it reads per type is the read handler of that type's
schema in the CloudFormation registry; cfn-lint ships those schemas (the pinned version in uv.lock; ADR 0012). A new
resource type in any stack of a stage, or a schema that reads more after an upgrade, fails here until
services/observability/infra/drift_check.py's READ_ACTIONS says what to grant, or EXCLUDED_ACTIONS why not.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any

import pytest
from aws_cdk.assertions import Template

from services.observability import contract as observability
from services.observability.infra.drift_check import EXCLUDED_ACTIONS, READ_ACTIONS
from services.observability.runtime.drift import UNREAD_TYPES
from stages.iot_stage import IotStage

pytestmark = pytest.mark.synth  # reads the synthesized app: not in `make unit`

# No drift detection, nothing to read.
NOT_DRIFT_CHECKED = frozenset({"AWS::CDK::Metadata"})


@cache
def read_handler(resource_type: str, region: str) -> tuple[str, ...] | None:
    """The permissions of the type's registry read handler; None for a type the registry has no handler for."""
    schemas = files("cfnlint") / "data" / "schemas"
    index: dict[str, str] = json.loads((schemas / "providers" / f"{region}.json").read_text(encoding="utf-8"))
    schema: dict[str, Any] = json.loads((schemas / "resources" / f"{index[resource_type]}.json").read_text())
    permissions = schema.get("handlers", {}).get("read", {}).get("permissions")
    return tuple(permissions) if permissions is not None else None


def stage_types(stage: IotStage) -> set[str]:
    return {
        resource["Type"]
        for stack in stage.service_stacks
        for resource in Template.from_stack(stack).to_json()["Resources"].values()
    }


def test_the_drift_check_watches_every_stack_of_its_stage(stages: list[IotStage]) -> None:
    for stage in stages:
        assert observability.drift_checked_stacks(stage.config.name) == tuple(
            s.stack_name for s in stage.service_stacks
        )


def test_every_resource_type_of_every_stage_is_read_or_said_why_not(stages: list[IotStage]) -> None:
    for stage in stages:
        missing = stage_types(stage) - set(READ_ACTIONS) - set(UNREAD_TYPES) - NOT_DRIFT_CHECKED
        assert not missing, f"{stage.config.name}: no READ_ACTIONS for {sorted(missing)}"


def test_every_type_granted_is_in_some_stage(stages: list[IotStage]) -> None:
    used = set().union(*(stage_types(stage) for stage in stages))
    assert set(READ_ACTIONS) - used == set()
    assert set(UNREAD_TYPES) <= used


@pytest.mark.parametrize("resource_type", sorted(READ_ACTIONS))
def test_each_type_gets_its_read_handlers_permissions_less_the_excluded(resource_type: str) -> None:
    handler = read_handler(resource_type, "eu-west-1")
    if handler is None:  # a policy resource: no handler, the call that returns its document
        assert resource_type in ("AWS::IAM::Policy", "AWS::SNS::TopicPolicy", "AWS::SQS::QueuePolicy")
        assert len(READ_ACTIONS[resource_type]) == 1
        return
    assert sorted(READ_ACTIONS[resource_type]) == sorted(set(handler) - set(EXCLUDED_ACTIONS))


def test_every_excluded_action_is_one_a_read_handler_asks_for() -> None:
    asked = {action for t in (*READ_ACTIONS, *UNREAD_TYPES) for action in read_handler(t, "eu-west-1") or ()}
    assert set(EXCLUDED_ACTIONS) <= asked


def test_the_unread_types_are_those_whose_read_needs_an_excluded_action() -> None:
    for resource_type in UNREAD_TYPES:
        assert set(read_handler(resource_type, "eu-west-1") or ()) & set(EXCLUDED_ACTIONS), resource_type
