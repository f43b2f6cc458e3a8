"""Least privilege on recorded calls, with the IAM policy simulator really run (tools/rehearsal/simulate.mjs)."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shared.repository import REPO_ROOT
from tools.common.cloud_assembly import stack_artifacts
from tools.rehearsal.calls import Call
from tools.rehearsal.pipeline import PipelineError, literal_arn, read_pipeline
from tools.rehearsal.privileges import AWS_MANAGED, LeastPrivilege, Policy, PolicySimulator, RolePolicies

if not (REPO_ROOT / "node_modules" / "@cloud-copilot" / "iam-simulate").is_dir():
    pytest.skip("no node_modules/@cloud-copilot/iam-simulate: run make install", allow_module_level=True)

REGION = "eu-west-1"
TOOLING, DEV = "111111111111", "222222222222"
STEP_ROLE = f"arn:aws:iam::{TOOLING}:role/iot-pipeline-SmokeTestDevRole"
STAGE_ROLE = f"arn:aws:iam::{DEV}:role/iot-dev-smoke-test"
REHEARSAL = f"arn:aws:iam::{TOOLING}:role/pipeline-rehearsal"
TABLE = f"arn:aws:dynamodb:{REGION}:{DEV}:table/iot-dev-readings"


def _statement(actions: list[str], resources: list[str], **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": resources, **extra}


def _policy(*statements: dict[str, Any], name: str = "Default") -> Policy:
    return Policy(name=name, document={"Version": "2012-10-17", "Statement": list(statements)})


def _trust(principal: str) -> dict[str, Any]:
    statement = {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": principal}}
    return {"Version": "2012-10-17", "Statement": [statement]}


def _roles(*, step: tuple[Policy, ...], stage_trust: str) -> dict[str, RolePolicies]:
    """The smoke test's step role in the tooling account, and the stage role it assumes, as the pipeline makes them:
    the stage role trusts the tooling account."""
    stage = _policy(_statement(["dynamodb:GetItem", "dynamodb:Query"], [TABLE]), name="ReadReadings")
    return {
        STEP_ROLE: RolePolicies(
            arn=STEP_ROLE, identity=step, boundary=None, trust=_trust(f"arn:aws:iam::{TOOLING}:root")
        ),
        STAGE_ROLE: RolePolicies(arn=STAGE_ROLE, identity=(stage,), boundary=None, trust=_trust(stage_trust)),
    }


ASSUME_STAGE_ROLE = _statement(["sts:AssumeRole"], [STAGE_ROLE])


def _session(role: str, name: str) -> str:
    account, role_name = role.split(":")[4], role.rsplit("/", 1)[1]
    return f"arn:aws:sts::{account}:assumed-role/{role_name}/{name}"


def _calls() -> list[Call]:
    """What the smoke test's step does, as the emulator logs it: assume the stage role, then read its table."""
    return [
        Call(principal=_session(STEP_ROLE, "codebuild-SmokeTestDev"), service="sts", operation="AssumeRole",
             resource=STAGE_ROLE, account=TOOLING, params={"RoleArn": STAGE_ROLE}),
        Call(principal=_session(STAGE_ROLE, "iot-smoke-test"), service="dynamodb", operation="GetItem",
             resource="*", account=DEV, params={"TableName": "iot-dev-readings"}),
        Call(principal=_session(REHEARSAL, "rehearsal"), service="dynamodb", operation="DeleteTable",
             resource="*", account=DEV, params={"TableName": "iot-dev-readings"}),
        Call(principal=None, service="sqs", operation="SendMessage", resource="*", account=DEV, params={}),
    ]  # fmt: skip


@pytest.fixture(scope="module")
def simulator() -> Iterator[PolicySimulator]:
    with PolicySimulator() as running:
        yield running


def _checker(simulator: PolicySimulator, roles: dict[str, RolePolicies]) -> LeastPrivilege:
    return LeastPrivilege(
        simulator=simulator,
        region=REGION,
        policies_of=roles.__getitem__,
        bucket_policy_of=lambda _account, _bucket: None,
        evaluated=lambda call: call.role_arn != REHEARSAL,
    )


def test_calls_the_policies_allow_pass_and_the_actions_no_call_used_are_reported(simulator: PolicySimulator) -> None:
    checker = _checker(simulator, _roles(step=(_policy(ASSUME_STAGE_ROLE),), stage_trust=STEP_ROLE))
    assert checker.check(_calls()) == []  # the rehearsal's own calls and the emulator's default caller are not asked
    report = checker.unused_report()
    assert f"## {STAGE_ROLE}" in report
    assert '- ReadReadings, statement 1: dynamodb:Query on ["' + TABLE + '"]' in report
    assert "dynamodb:GetItem" not in report
    assert f"## {STEP_ROLE}\n\nevery allowed action was used" in report
    assert REHEARSAL not in report


def test_a_permission_removed_from_a_step_role_is_denied_naming_the_call_and_what_is_missing(
    simulator: PolicySimulator,
) -> None:
    other = _statement(["sts:AssumeRole"], [f"arn:aws:iam::{DEV}:role/iot-dev-other"])
    denials = _checker(simulator, _roles(step=(_policy(other),), stage_trust=STEP_ROLE)).check(_calls())
    assert [str(denial) for denial in denials] == [
        f"{STEP_ROLE} called sts:AssumeRole on {STAGE_ROLE}, which its policies do not allow: no statement of "
        f"{STEP_ROLE}'s policies allows sts:AssumeRole on {STAGE_ROLE}"
    ]


def test_a_stage_role_whose_trust_does_not_admit_the_step_role_is_denied_naming_the_trust(
    simulator: PolicySimulator,
) -> None:
    elsewhere = "arn:aws:iam::999999999999:root"
    denials = _checker(simulator, _roles(step=(_policy(ASSUME_STAGE_ROLE),), stage_trust=elsewhere)).check(_calls())
    assert [denial.missing for denial in denials] == [f"the trust policy of {STAGE_ROLE} does not admit {STEP_ROLE}"]


def test_an_explicit_deny_is_named_by_its_statement(simulator: PolicySimulator) -> None:
    deny = {"Sid": "NoStageRoles", "Effect": "Deny", "Action": "sts:AssumeRole", "Resource": "*"}
    roles = _roles(step=(_policy(ASSUME_STAGE_ROLE, deny),), stage_trust=STEP_ROLE)
    denials = _checker(simulator, roles).check(_calls())
    assert [denial.missing for denial in denials] == ["explicitly denied by NoStageRoles of Default policy"]


def test_an_aws_managed_policy_is_reported_by_how_many_of_its_actions_were_used(simulator: PolicySimulator) -> None:
    managed = _policy(_statement(["sts:AssumeRole"], ["*"]), name=f"{AWS_MANAGED}AssumeAnything")
    checker = _checker(simulator, _roles(step=(managed,), stage_trust=STEP_ROLE))
    assert checker.check(_calls()) == []
    assert f"- {AWS_MANAGED}AssumeAnything (AWS managed): 1 of its actions used" in checker.unused_report()


def test_a_condition_on_what_the_request_carries_is_evaluated_with_the_requests_value(
    simulator: PolicySimulator,
) -> None:
    bucket = "arn:aws:s3:::iot-dev-archive"
    listing = _statement(["s3:ListBucket"], [bucket], Condition={"StringLike": {"s3:prefix": ["readings/*"]}})
    roles = _roles(step=(_policy(ASSUME_STAGE_ROLE),), stage_trust=STEP_ROLE)
    roles[STAGE_ROLE] = RolePolicies(
        arn=STAGE_ROLE, identity=(_policy(listing),), boundary=None, trust=roles[STAGE_ROLE].trust
    )

    def listed(prefix: str) -> Call:
        return Call(principal=_session(STAGE_ROLE, "iot-smoke-test"), service="s3", operation="ListBucket",
                    resource=bucket, account=DEV, params={"prefix": prefix})  # fmt: skip

    checker = _checker(simulator, roles)
    assert checker.check([listed("readings/2026/")]) == []
    (denied,) = checker.check([listed("quarantine/")])
    assert denied.request.context == {"s3:prefix": "quarantine/"}


# --- the planted faults, on the wiring as synthesized -----------------------------------------------------------


def _literal(value: Any) -> Any:
    """A policy value with its ARNs joined around the partition made literal (``literal_arn``); raises PipelineError
    for one that names another resource of the template (a project, a bucket), which the smoke test's call is not."""
    if isinstance(value, list):
        return [_literal(item) for item in value]
    if isinstance(value, dict) and set(value) <= {"AWS", "Service"}:
        return {key: _literal(item) for key, item in value.items()}
    return literal_arn(value)


def _synthesized_roles(assembly: Path, stage: str) -> tuple[str, RolePolicies, RolePolicies]:
    """The stage's smoke-test step role (the statements of its policy that name literal resources) and the stage's
    smoke-test role (its trust), as the app synthesizes them; the step role's ARN as the rehearsal deploys it."""
    pipeline = read_pipeline(assembly)
    (step,) = [a for a in pipeline.actions if a.name == f"SmokeTest{stage.title()}"]
    assert step.project is not None
    statements = []
    for resource in pipeline.template["Resources"].values():
        if (
            resource["Type"] == "AWS::IAM::Policy"
            and {"Ref": step.project.role_logical_id} in resource["Properties"]["Roles"]
        ):
            for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
                with contextlib.suppress(PipelineError):
                    statements.append({**statement, "Resource": _literal(statement["Resource"])})
    step_role = f"arn:aws:iam::{TOOLING}:role/iot-pipeline-{step.project.role_logical_id}"
    (trust,) = [
        resource["Properties"]["AssumeRolePolicyDocument"]
        for artifact in stack_artifacts(assembly)
        for resource in artifact.template()["Resources"].values()
        if resource["Type"] == "AWS::IAM::Role" and resource["Properties"].get("RoleName") == f"iot-{stage}-smoke-test"
    ]
    trust = {**trust, "Statement": [{**s, "Principal": _literal(s["Principal"])} for s in trust["Statement"]]}
    return (
        step_role,
        RolePolicies(arn=step_role, identity=(_policy(*statements),), boundary=None, trust={}),
        RolePolicies(arn=STAGE_ROLE, identity=(), boundary=None, trust=trust),
    )


@pytest.mark.synth
def test_planted_faults_in_the_synthesized_smoke_test_wiring_are_denied_naming_the_cause(
    app: object, assembly_dir: Path, simulator: PolicySimulator
) -> None:
    step_role, step, stage = _synthesized_roles(assembly_dir, "dev")
    assume = [Call(principal=_session(step_role, "codebuild-SmokeTestDev"), service="sts", operation="AssumeRole",
                   resource=STAGE_ROLE, account=TOOLING, params={"RoleArn": STAGE_ROLE})]  # fmt: skip
    assert _checker(simulator, {step_role: step, STAGE_ROLE: stage}).check(assume) == []

    without = [s for s in step.identity[0].statements if s["Action"] != "sts:AssumeRole"]
    removed = dataclasses.replace(step, identity=(_policy(*without),))
    (denial,) = _checker(simulator, {step_role: removed, STAGE_ROLE: stage}).check(assume)
    assert denial.missing == f"no statement of {step_role}'s policies allows sts:AssumeRole on {STAGE_ROLE}"

    own_account = dataclasses.replace(stage, trust=_trust(f"arn:aws:iam::{DEV}:root"))
    (denial,) = _checker(simulator, {step_role: step, STAGE_ROLE: own_account}).check(assume)
    assert denial.missing == f"the trust policy of {STAGE_ROLE} does not admit {step_role}"
