"""The delivery pipeline's shape, read from the synthesized pipeline template."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from pipeline.config import PlatformConfig
from pipeline.node_tools import locked_version
from pipeline.notifications import NOTIFICATION_SERVICE
from pipeline.pipeline_stack import CHANGE_REPORT_DIR, CHANGE_REPORT_PROJECT, PipelineStack, bootstrap_role_arn
from shared.repository import REPO_ROOT
from tools.rehearsal.pipeline import read_pipeline

pytestmark = pytest.mark.synth  # reads the synthesized app: not in `make unit`


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
    (approval,) = [a for a in actions if a["Name"] == "PromoteToProd"]
    deploys = [a for a in actions if a["ActionTypeId"]["Category"] == "Deploy"]
    assert deploys
    assert all(approval["RunOrder"] < deploy["RunOrder"] for deploy in deploys)


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
    after_smoke = [a["Name"] for a in actions if a["RunOrder"] > smoke["RunOrder"]]
    assert after_smoke in (
        [f"Record{stage}"],
        [f"Bake{stage}", f"Record{stage}"],
        [f"FaultInjection{stage}", f"Bake{stage}", f"Record{stage}"],
    )
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
    bakes = 1 if platform_config.stage(stage.lower()).delivery.bake_minutes else 0
    experiments = 0 if platform_config.stage(stage.lower()).fault_injection is None else 1
    assert len(assumes) == 1 + experiments + bakes + 1, (
        f"only the smoke test, the experiment, the bake and the record may assume {role_arn}"
    )


def test_assets_are_published_by_one_project_after_self_mutation(pipeline_stages: list[dict[str, Any]]) -> None:
    names = [stage["Name"] for stage in pipeline_stages]
    (publish,) = _stage(pipeline_stages, "Assets")  # publish_assets_in_parallel=False: one action for all assets
    assert publish["ActionTypeId"]["Provider"] == "CodeBuild"
    assert names.index("UpdatePipeline") < names.index("Assets") < names.index("Dev")


# --- promotion to prod: change report, permission check, approval -------------------------------------------------


def _action(stages: list[dict[str, Any]], stage: str, name: str) -> dict[str, Any]:
    (action,) = [a for a in _stage(stages, stage) if a["Name"] == name]
    return action


def _project(template: Template, action: dict[str, Any]) -> dict[str, Any]:
    project: dict[str, Any] = template.to_json()["Resources"][action["Configuration"]["ProjectName"]["Ref"]]
    return project


def _env(template: Template, action: dict[str, Any]) -> dict[str, str]:
    """Variables of a CodeBuild action: static ones live on the project, stack outputs on the action."""
    project = _project(template, action)["Properties"]["Environment"].get("EnvironmentVariables", [])
    dynamic = json.loads(action["Configuration"].get("EnvironmentVariables", "[]"))
    return {v["Name"]: v["Value"] for v in project} | {v["name"]: v["value"] for v in dynamic}


def _role_statements(template: Template, project: dict[str, Any]) -> list[dict[str, Any]]:
    role = project["Properties"]["ServiceRole"]["Fn::GetAtt"][0]
    return [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_prod_runs_the_change_report_and_permission_check_before_the_approval_and_deploys(
    pipeline_stages: list[dict[str, Any]],
) -> None:
    order = {a["Name"]: a["RunOrder"] for a in _stage(pipeline_stages, "Prod")}
    first_deploy = min(order[name] for name in order if name.endswith((".Prepare", ".Deploy")))
    assert order["ChangeReport"] == order["CheckPermissions.Check"] < order["CheckPermissions.Confirm"]
    assert order["CheckPermissions.Confirm"] < order["PromoteToProd"] < first_deploy


def test_approval_links_to_the_change_report_and_names_only_what_exists(
    pipeline_stages: list[dict[str, Any]], platform_config: PlatformConfig
) -> None:
    approval = _action(pipeline_stages, "Prod", "PromoteToProd")["Configuration"]
    tooling = platform_config.pipeline
    assert approval["ExternalEntityLink"] == (
        f"https://{tooling.region}.console.aws.amazon.com/codesuite/codebuild/{tooling.tooling_account}/projects/"
        f"{CHANGE_REPORT_PROJECT}/history?region={tooling.region}"
    )
    comment = approval["CustomData"]
    assert len(comment) <= 500
    for named in ("change report", "change-report.md", "CheckPermissions", "smoke test and bake", "nag-report.md"):
        assert named in comment
    assert "cdk diff in the Synth logs" not in comment  # the old comment pointed at a diff nothing produced


def test_change_report_compares_the_prod_stacks_with_the_new_assembly_through_the_lookup_role_only(
    template: Template, pipeline_stages: list[dict[str, Any]], platform_config: PlatformConfig
) -> None:
    action = _action(pipeline_stages, "Prod", "ChangeReport")
    project = _project(template, action)
    assert project["Properties"]["Name"] == CHANGE_REPORT_PROJECT
    spec = json.loads(project["Properties"]["Source"]["BuildSpec"])
    assert spec["phases"]["build"]["commands"] == ["make change-report"]
    assert spec["artifacts"]["base-directory"] == CHANGE_REPORT_DIR
    assert len(action["InputArtifacts"]) == 2  # the source (the tool) and the synth output (the new assembly)
    env = _env(template, action)
    prod = platform_config.stage("prod")
    lookup_role = f"arn:aws:iam::{prod.account}:role/cdk-hnb659fds-lookup-role-{prod.account}-{prod.region}"
    assert env["LOOKUP_ROLE_ARN"] == lookup_role
    assert env["STACKS"] == "iot-prod-ingest,iot-prod-archive,iot-prod-observability"
    assumes = [s for s in _role_statements(template, project) if "sts:AssumeRole" in json.dumps(s["Action"])]
    assert [s["Resource"] for s in assumes] == [lookup_role]


def test_permission_broadening_check_guards_prod_only(pipeline_stages: list[dict[str, Any]]) -> None:
    check = _action(pipeline_stages, "Prod", "CheckPermissions.Check")
    assert check["ActionTypeId"]["Provider"] == "CodeBuild"
    assert _action(pipeline_stages, "Prod", "CheckPermissions.Confirm")["ActionTypeId"]["Category"] == "Approval"
    for stage in ("Dev", "Staging"):
        assert not [a for a in _stage(pipeline_stages, stage) if a["Name"].startswith("CheckPermissions")]


# --- bake ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", ["Dev", "Staging"])
def test_non_prod_stages_bake_after_their_smoke_test_for_the_configured_minutes(
    template: Template, pipeline_stages: list[dict[str, Any]], platform_config: PlatformConfig, stage: str
) -> None:
    minutes = platform_config.stage(stage.lower()).delivery.bake_minutes
    assert minutes > 0
    bake = _action(pipeline_stages, stage, f"Bake{stage}")
    assert bake["RunOrder"] > _action(pipeline_stages, stage, f"SmokeTest{stage}")["RunOrder"]
    assert bake["RunOrder"] == _action(pipeline_stages, stage, f"Record{stage}")["RunOrder"] - 1
    env = _env(template, bake)
    assert env["BAKE_MINUTES"] == str(minutes)
    assert "OBSERVABILITY_COMPOSITEALARMNAME" in env
    project = _project(template, bake)
    assert json.loads(project["Properties"]["Source"]["BuildSpec"])["phases"]["build"]["commands"] == ["make bake"]
    assert project["Properties"]["TimeoutInMinutes"] > minutes


def test_prod_approval_comes_only_after_staging_has_baked(pipeline_stages: list[dict[str, Any]]) -> None:
    names = [stage["Name"] for stage in pipeline_stages]
    assert names.index("Staging") + 1 == names.index("Prod")
    assert [a["Name"] for a in _stage(pipeline_stages, "Staging")][-2:] == ["BakeStaging", "RecordStaging"]
    assert not [a for a in _stage(pipeline_stages, "Prod") if a["Name"].startswith("Bake")]


# --- fault injection --------------------------------------------------------------------------------------------------


def test_staging_runs_its_experiment_after_the_smoke_test_and_before_the_bake(
    template: Template, pipeline_stages: list[dict[str, Any]], platform_config: PlatformConfig
) -> None:
    experiment = platform_config.stage("staging").fault_injection
    assert experiment is not None
    step = _action(pipeline_stages, "Staging", "FaultInjectionStaging")
    smoke, bake = (_action(pipeline_stages, "Staging", f"{name}Staging") for name in ("SmokeTest", "Bake"))
    assert smoke["RunOrder"] < step["RunOrder"] < bake["RunOrder"]
    project = _project(template, step)
    assert json.loads(project["Properties"]["Source"]["BuildSpec"])["phases"]["build"]["commands"] == [
        "make fault-injection"
    ]
    assert _env(template, step)["EXPERIMENT_RECOVERY_MINUTES"] == str(experiment.recovery_minutes)
    assert project["Properties"]["TimeoutInMinutes"] > experiment.duration_minutes + experiment.recovery_minutes
    config = platform_config.stage("staging")
    assumes = [s for s in _role_statements(template, project) if "sts:AssumeRole" in json.dumps(s["Action"])]
    assert [s["Resource"] for s in assumes] == [f"arn:aws:iam::{config.account}:role/iot-staging-smoke-test"]


@pytest.mark.parametrize("stage", ["Dev", "Prod"])
def test_a_stage_without_an_experiment_runs_no_fault_injection(
    pipeline_stages: list[dict[str, Any]], platform_config: PlatformConfig, stage: str
) -> None:
    assert platform_config.stage(stage.lower()).fault_injection is None
    assert not [a for a in _stage(pipeline_stages, stage) if a["Name"].startswith("FaultInjection")]


# --- what runs where ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", ["Dev", "Staging", "Prod"])
def test_each_stage_ends_by_recording_what_it_runs_after_every_other_action(
    template: Template, pipeline_stages: list[dict[str, Any]], platform_config: PlatformConfig, stage: str
) -> None:
    actions = _stage(pipeline_stages, stage)
    record = _action(pipeline_stages, stage, f"Record{stage}")
    assert [a["Name"] for a in actions if a["RunOrder"] >= record["RunOrder"]] == [f"Record{stage}"]
    project = _project(template, record)
    assert json.loads(project["Properties"]["Source"]["BuildSpec"])["phases"]["build"]["commands"] == [
        "make record-deployment"
    ]
    # the source (the tool) and the synth output (the assembly whose digest it records)
    assert [artifact["Name"] for artifact in record["InputArtifacts"]] == [
        "iot_platform_iot_platform_Source",
        "Synth_Output",
    ]
    env = _env(template, record)
    (source,) = _stage(pipeline_stages, "Source")
    assert env["DEPLOYED_COMMIT"] == f"#{{{source['Namespace']}.CommitId}}"
    assert env["PIPELINE_EXECUTION_ID"] == "#{codepipeline.PipelineExecutionId}"
    assert env["STAGE_NAME"] == stage.lower()
    config = platform_config.stage(stage.lower())
    role_arn = f"arn:aws:iam::{config.account}:role/iot-{config.name}-smoke-test"
    assumes = [s for s in _role_statements(template, project) if "sts:AssumeRole" in json.dumps(s["Action"])]
    assert [s["Resource"] for s in assumes] == [role_arn]


# --- notifications ----------------------------------------------------------------------------------------------------


def test_failures_approvals_and_finished_executions_notify_the_encrypted_topic(template: Template) -> None:
    (rule,) = template.find_resources("AWS::CodeStarNotifications::NotificationRule").values()
    assert sorted(rule["Properties"]["EventTypeIds"]) == [
        "codepipeline-pipeline-manual-approval-needed",
        "codepipeline-pipeline-pipeline-execution-failed",
        "codepipeline-pipeline-pipeline-execution-succeeded",
    ]
    ((target_id,),) = [list(t["TargetAddress"].values()) for t in rule["Properties"]["Targets"]]
    topic = template.to_json()["Resources"][target_id]
    key_id = topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
    key = template.to_json()["Resources"][key_id]["Properties"]
    assert key["EnableKeyRotation"] is True
    services = [s for s in key["KeyPolicy"]["Statement"] if "Service" in s.get("Principal", {})]
    assert services == [
        {
            "Effect": "Allow",
            "Principal": {"Service": NOTIFICATION_SERVICE},
            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
            "Resource": "*",
        }
    ]
    (policy,) = [
        p["Properties"]
        for p in template.find_resources("AWS::SNS::TopicPolicy").values()
        if {"Ref": target_id} in p["Properties"]["Topics"]
    ]
    allowed = [s["Principal"] for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert allowed == [{"Service": NOTIFICATION_SERVICE}]


# --- supply chain ------------------------------------------------------------------------------------------------


def test_synth_keeps_sboms_of_the_asset_and_the_dev_environment_in_the_cloud_assembly() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = makefile.split("\npipeline-synth:", 1)[1].split("\n\n", 1)[0]
    assert "$(MAKE) sbom SBOM_DIR=$(ASSEMBLY)/sbom" in recipe
    sbom = makefile.split("\nsbom:", 1)[1].split("\n\n", 1)[0]
    assert "requirements services/iot_processor/runtime/requirements.txt" in sbom
    assert "environment $(BIN)/python" in sbom


# --- the variables each step reads are what the pipeline passes, from the output of that name -----------------------

# What each step's command reads (tools/steps), spelled out: a variable renamed on either side fails here.
STEP_READS = {
    "SmokeTest": {
        "STAGE_NAME", "STAGE_ACCOUNT", "STAGE_REGION",
        "INGEST_STREAMARN", "INGEST_STREAMNAME", "INGEST_STREAMKEYARN", "INGEST_TABLENAME",
        "INGEST_PROCESSEDBUCKETNAME", "INGEST_FAILUREBUCKETNAME", "INGEST_ALERTINBOXURL", "INGEST_SMOKETESTROLEARN",
        "ARCHIVE_RAWBUCKETNAME", "OBSERVABILITY_OPSTOPICARN",
    },
    "Bake": {"OBSERVABILITY_COMPOSITEALARMNAME", "INGEST_SMOKETESTROLEARN", "BAKE_MINUTES"},
    "FaultInjection": {
        "INGEST_STREAMNAME", "INGEST_TABLENAME", "INGEST_PROCESSEDBUCKETNAME", "INGEST_FAILUREBUCKETNAME",
        "INGEST_ALERTINBOXURL", "INGEST_SMOKETESTROLEARN", "ARCHIVE_RAWBUCKETNAME",
        "OBSERVABILITY_EXPERIMENTTEMPLATEID", "OBSERVABILITY_EXPERIMENTRAISEDALARMNAMES",
        "OBSERVABILITY_COMPOSITEALARMNAME", "EXPERIMENT_RECOVERY_MINUTES",
    },
    "Record": {"STAGE_NAME", "DEPLOYED_COMMIT", "PIPELINE_EXECUTION_ID", "INGEST_SMOKETESTROLEARN"},
}  # fmt: skip
# Variables the pipeline resolves from its own run, not from a stack (the record's test checks them).
NOT_STACK_OUTPUTS = {"DEPLOYED_COMMIT", "PIPELINE_EXECUTION_ID", "EXPERIMENT_RECOVERY_MINUTES"}
SERVICE_OF_STACK = {"Ingest": "INGEST", "Archive": "ARCHIVE", "Observability": "OBSERVABILITY"}


@pytest.mark.parametrize(
    ("stage", "step"),
    [("Dev", "SmokeTest"), ("Dev", "Bake"), ("Staging", "FaultInjection"), ("Prod", "SmokeTest"), ("Prod", "Record")],
)
def test_every_variable_a_step_reads_is_passed_from_the_stack_output_of_that_name(
    template: Template, pipeline_stages: list[dict[str, Any]], stage: str, step: str
) -> None:
    actions = _stage(pipeline_stages, stage)
    namespaces = {
        action["Namespace"]: SERVICE_OF_STACK[service]
        for action in actions
        if action.get("Namespace")
        for service in SERVICE_OF_STACK
        if f"{stage}{service}" in action["Namespace"]
    }
    env = _env(template, _action(pipeline_stages, stage, f"{step}{stage}"))
    assert STEP_READS[step] <= env.keys(), STEP_READS[step] - env.keys()
    for name, value in env.items():
        if not value.startswith("#{") or name in NOT_STACK_OUTPUTS:
            continue
        namespace, _, output = value.removeprefix("#{").removesuffix("}").partition(".")
        assert f"{namespaces[namespace]}_{output.upper()}" == name, (name, value)


# --- the Node tools the steps install ---------------------------------------------------------------------------


def test_every_npm_install_in_the_pipeline_names_the_version_package_lock_json_locks(
    app: object, assembly_dir: Path
) -> None:
    commands = [(label, command) for label, command in read_pipeline(assembly_dir).commands() if "npm i" in command]
    installs = [
        (label, spec) for label, command in commands for spec in re.findall(r"npm (?:install|i) -g (\S+)", command)
    ]
    # Self-mutation, the asset step and the permission check each install the CLI; a command this test cannot read
    # (another npm form) fails it too.
    assert len(installs) == len(commands) == 3, commands
    for label, spec in installs:
        name, _, version = spec[1:].partition("@") if spec.startswith("@") else spec.partition("@")
        name = f"@{name}" if spec.startswith("@") else name
        assert version == locked_version(name), (
            f"{label} installs {spec}; package-lock.json locks {locked_version(name)}"
        )


def test_the_asset_step_publishes_every_stage_with_the_locked_cli(app: object, assembly_dir: Path) -> None:
    (assets,) = [a for a in read_pipeline(assembly_dir).actions if a.stage == "Assets"]
    assert assets.project is not None
    assert assets.project.commands["build"] == [
        f"cdk -a . publish-assets --unstable=publish-assets 'IotPipeline/{stage}/*'"
        for stage in ("Dev", "Staging", "Prod")
    ]


def test_the_asset_step_may_assume_each_stages_deploy_role_for_the_clis_bootstrap_version_check(
    template: Template, pipeline_stages: list[dict[str, Any]], platform_config: PlatformConfig
) -> None:
    (publish,) = _stage(pipeline_stages, "Assets")
    assumed = [
        resource
        for statement in _role_statements(template, _project(template, publish))
        if statement["Action"] == "sts:AssumeRole"
        for resource in statement["Resource"]
    ]
    for stage in platform_config.stages:
        assert bootstrap_role_arn("deploy", stage) in assumed
