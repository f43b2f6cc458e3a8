"""The delivery pipeline's shape, read from the synthesized pipeline template."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from stages.config import PlatformConfig
from stages.pipeline_stack import PipelineStack


@pytest.fixture(scope="module")
def template(pipeline_stack: PipelineStack) -> Template:
    return Template.from_stack(pipeline_stack)


@pytest.fixture(scope="module")
def pipeline_stages(template: Template) -> list[dict[str, Any]]:
    (pipeline,) = template.find_resources("AWS::CodePipeline::Pipeline").values()
    stages: list[dict[str, Any]] = pipeline["Properties"]["Stages"]
    return stages


def _stage(stages: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    actions: list[dict[str, Any]] = next(stage["Actions"] for stage in stages if stage["Name"] == name)
    return actions


def test_stages_run_source_build_selfmutation_then_dev_staging_prod(pipeline_stages: list[dict[str, Any]]) -> None:
    names = [stage["Name"] for stage in pipeline_stages]
    assert names[:3] == ["Source", "Build", "UpdatePipeline"]
    environments = [name for name in names if name in ("Dev", "Staging", "Prod")]
    assert environments == ["Dev", "Staging", "Prod"]
    assert names.index("UpdatePipeline") < names.index("Dev")


def test_pipeline_is_v2_and_restarts_after_self_mutation(template: Template) -> None:
    template.has_resource_properties(
        "AWS::CodePipeline::Pipeline", {"PipelineType": "V2", "RestartExecutionOnUpdate": True}
    )


def test_source_is_the_configured_branch_through_codeconnections(
    pipeline_stages: list[dict[str, Any]], platform_config: PlatformConfig
) -> None:
    (source,) = _stage(pipeline_stages, "Source")
    assert source["ActionTypeId"]["Provider"] == "CodeStarSourceConnection"
    assert source["Configuration"]["ConnectionArn"] == platform_config.pipeline.connection_arn
    assert source["Configuration"]["FullRepositoryId"] == platform_config.pipeline.repository
    assert source["Configuration"]["BranchName"] == "main"


def test_self_mutation_stage_runs_cdk_deploy_of_the_pipeline(
    template: Template, pipeline_stages: list[dict[str, Any]]
) -> None:
    (mutate,) = _stage(pipeline_stages, "UpdatePipeline")
    assert mutate["ActionTypeId"]["Provider"] == "CodeBuild"
    project = template.to_json()["Resources"][mutate["Configuration"]["ProjectName"]["Ref"]]
    spec = json.loads(project["Properties"]["Source"]["BuildSpec"])
    assert spec["phases"]["build"]["commands"] == ["cdk -a . deploy IotPipeline --require-approval=never --verbose"]


def test_synth_installs_from_lock_runs_tests_and_keeps_the_nag_report(template: Template) -> None:
    template.has_resource_properties(
        "AWS::CodeBuild::Project",
        {
            "Source": {
                "BuildSpec": Match.serialized_json(
                    Match.object_like(
                        {
                            "phases": Match.object_like(
                                {
                                    "install": Match.object_like({"commands": ["make install"]}),
                                    "build": {"commands": ["make pipeline-synth"]},
                                }
                            ),
                            "artifacts": Match.object_like({"base-directory": "cdk.out"}),
                        }
                    )
                )
            }
        },
    )


def test_every_key_of_the_pipeline_rotates(template: Template) -> None:
    keys = template.find_resources("AWS::KMS::Key")
    assert keys
    assert {name: key["Properties"].get("EnableKeyRotation") for name, key in keys.items()} == dict.fromkeys(keys, True)


def test_prod_waits_for_approval_before_any_deploy_action(pipeline_stages: list[dict[str, Any]]) -> None:
    actions = _stage(pipeline_stages, "Prod")
    (approval,) = [a for a in actions if a["ActionTypeId"]["Category"] == "Approval"]
    deploys = [a for a in actions if a["ActionTypeId"]["Category"] == "Deploy"]
    assert deploys
    assert all(approval["RunOrder"] < deploy["RunOrder"] for deploy in deploys)
    assert "smoke test" in approval["Configuration"]["CustomData"]


def test_only_prod_has_an_approval(pipeline_stages: list[dict[str, Any]]) -> None:
    for name in ("Dev", "Staging"):
        assert all(a["ActionTypeId"]["Category"] != "Approval" for a in _stage(pipeline_stages, name))


@pytest.mark.parametrize("stage", ["Dev", "Staging", "Prod"])
def test_each_stage_deploys_to_its_account_then_verifies(
    pipeline_stages: list[dict[str, Any]], platform_config: PlatformConfig, stage: str
) -> None:
    actions = _stage(pipeline_stages, stage)
    deploys = [a for a in actions if a["ActionTypeId"]["Category"] == "Deploy"]
    (verify,) = [a for a in actions if a["Name"] == f"SmokeTest{stage}"]
    assert all(verify["RunOrder"] > deploy["RunOrder"] for deploy in deploys)
    account = platform_config.stage(stage.lower()).account
    assert all(account in str(deploy["RoleArn"]) for deploy in deploys)
    assert [a["Name"] for a in deploys if a["Name"].endswith(".Deploy")] == [
        f"iot-{stage.lower()}-{service}.Deploy" for service in ("ingest", "archive", "observability")
    ]


@pytest.mark.parametrize("stage", ["Dev", "Staging", "Prod"])
def test_each_stage_ends_with_a_smoke_test_through_that_stage_role(
    template: Template, pipeline_stages: list[dict[str, Any]], platform_config: PlatformConfig, stage: str
) -> None:
    actions = _stage(pipeline_stages, stage)
    (smoke,) = [a for a in actions if a["Name"] == f"SmokeTest{stage}"]
    assert smoke["RunOrder"] == max(action["RunOrder"] for action in actions)
    config = platform_config.stage(stage.lower())
    role_arn = f"arn:aws:iam::{config.account}:role/iot-{config.name}-smoke-test"
    project_id = smoke["Configuration"]["ProjectName"]["Ref"]
    project = template.to_json()["Resources"][project_id]
    spec = json.loads(project["Properties"]["Source"]["BuildSpec"])
    assert spec["phases"]["build"]["commands"] == ["make verify-stage", "make smoke-test"]
    env = json.loads(smoke["Configuration"]["EnvironmentVariables"])
    names = {variable["name"] for variable in env}
    assert {"INGEST_STREAMNAME", "INGEST_TABLENAME", "INGEST_FAILUREBUCKETNAME", "INGEST_SMOKETESTROLEARN"} <= names
    assumes = [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Action"] == "sts:AssumeRole" and statement["Resource"] == role_arn
    ]
    assert len(assumes) == 1, f"exactly one policy may assume {role_arn}"


def test_assets_are_published_by_one_project_after_self_mutation(pipeline_stages: list[dict[str, Any]]) -> None:
    names = [stage["Name"] for stage in pipeline_stages]
    (publish,) = _stage(pipeline_stages, "Assets")  # publish_assets_in_parallel=False: one action for all assets
    assert publish["ActionTypeId"]["Provider"] == "CodeBuild"
    assert names.index("UpdatePipeline") < names.index("Assets") < names.index("Dev")
