"""The self-mutating delivery pipeline: GitHub main -> synth -> Dev -> Staging -> approval -> Prod.

Each non-prod stage ends with its smoke test and a bake (its composite alarm must stay out of ALARM). Prod
starts with a change report and CDK Pipelines' permission-broadening check, then a person's approval that
links to the report; the processor then shifts to its new version as configured (CodeDeploy, with rollback).
Every stage's last step records in the stage's account what it now runs (``make environments`` reads it).
"""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import Duration, RemovalPolicy, Stack, pipelines
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_iam as iam
from constructs import Construct

from pipeline import step_environment as variables
from pipeline.compliance import acknowledge_security_check, harden_pipeline
from pipeline.config import PlatformConfig
from pipeline.node_tools import CDK_CLI, install_command, locked_version
from pipeline.notifications import PipelineNotifications
from services.iot_processor import contract as ingest
from services.observability import contract as observability
from shared.infra.naming import output_variable, smoke_test_role_arn, stack_name
from shared.infra.secure_bucket import access_log_bucket
from stages.config import StageConfig
from stages.iot_stage import IotStage

# CodeBuild's standard image ships several runtimes; pin the ones the Makefile expects.
_RUNTIME_VERSIONS = {"python": "3.12", "nodejs": "22"}
_ASSEMBLY_DIR = "cdk.out"
CHANGE_REPORT_PROJECT = "iot-prod-change-report"
CHANGE_REPORT_DIR = "reports/change-report"
# The bake step polls the alarm for the bake period; the rest covers install and the first read.
_BAKE_OVERHEAD_MINUTES = 15
# Beside the experiment and the recovery: install, and waiting for every reading to land (the archive's buffer).
_FAULT_INJECTION_OVERHEAD_MINUTES = 30


def stage_id(config: StageConfig) -> str:
    """Short, fixed construct id of a stage (``Dev``, ``Staging``, ``Prod``): it is part of every stack's path."""
    return config.name.title()


class PipelineStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: PlatformConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        source = pipelines.CodePipelineSource.connection(
            config.pipeline.repository,
            config.pipeline.branch,
            connection_arn=config.pipeline.connection_arn,
            trigger_on_push=True,
        )
        synth = pipelines.CodeBuildStep(
            "Synth",
            input=source,
            install_commands=["make install"],
            # Unit and infra tests, synth with cdk-nag, then the compliance report and the SBOMs inside cdk.out,
            # so they travel with the cloud assembly as a build artifact.
            commands=["make pipeline-synth"],
            primary_output_directory=_ASSEMBLY_DIR,
            partial_build_spec=_install_runtimes(),
        )
        self.pipeline = pipelines.CodePipeline(
            self,
            "Pipeline",
            pipeline_name="iot-platform",
            pipeline_type=codepipeline.PipelineType.V2,
            self_mutation=True,
            cross_account_keys=True,
            enable_key_rotation=True,
            publish_assets_in_parallel=False,
            # Self-mutation installs the locked CLI (pipeline/node_tools.py); so do the asset step and the
            # permission check (_use_the_locked_cli).
            cli_version=locked_version(CDK_CLI),
            docker_enabled_for_synth=False,
            synth=synth,
            code_build_defaults=pipelines.CodeBuildOptions(
                build_environment=codebuild.BuildEnvironment(
                    build_image=codebuild.LinuxBuildImage.STANDARD_7_0,
                    compute_type=codebuild.ComputeType.MEDIUM,
                ),
            ),
        )
        self.stages: list[IotStage] = []
        for stage_config in config.stages:
            stage = IotStage(
                self, stage_id(stage_config), config=stage_config, smoke_test_account=config.pipeline.tooling_account
            )
            self.stages.append(stage)
            pre = (
                _promotion_checks(stage, source=source, synth=synth, tooling=self) if stage_config.is_production else []
            )
            self.pipeline.add_stage(stage, pre=pre, post=_verification_steps(stage, source=source, synth=synth))
        self.pipeline.build_pipeline()
        self.notifications = PipelineNotifications(
            self, "Notifications", pipeline=self.pipeline.pipeline, emails=config.pipeline.notification_emails
        )
        access_logs = access_log_bucket(self, "AccessLogs", removal_policy=RemovalPolicy.RETAIN, expiration_days=365)
        harden_pipeline(self.pipeline, access_logs=access_logs)
        _use_the_locked_cli(self.pipeline, stages=self.stages)
        acknowledge_security_check(self.pipeline)


def _promotion_checks(
    stage: IotStage, *, source: pipelines.IFileSetProducer, synth: pipelines.IFileSetProducer, tooling: Stack
) -> list[pipelines.Step]:
    """Before prod deploys: the change report and the permission check run side by side, then a person approves."""
    report = _change_report_step(stage, source=source, synth=synth)
    permissions = pipelines.ConfirmPermissionsBroadening("CheckPermissions", stage=stage)
    approval = pipelines.ManualApprovalStep(
        "PromoteToProd",
        review_url=(
            f"https://{tooling.region}.console.aws.amazon.com/codesuite/codebuild/{tooling.account}/projects/"
            f"{CHANGE_REPORT_PROJECT}/history?region={tooling.region}"
        ),
        comment=_approval_comment(),
    )
    approval.add_step_dependency(report)
    approval.add_step_dependency(permissions)
    return [report, permissions, approval]


def _approval_comment() -> str:
    """Says only what exists in this execution, and where (CodePipeline keeps at most 500 characters)."""
    comment = (
        "Promote to prod? Read the change report (review link: latest ChangeReport build; log and "
        "change-report.md artifact): its 'Needs attention' lists replaced or removed streams, tables, buckets and "
        "keys, and IAM, key-policy, resource-policy and network changes. CheckPermissions passed or was confirmed. "
        "Staging passed its smoke test and bake in this execution. Synth's cloud assembly holds nag-report.md and "
        "sbom/."
    )
    assert len(comment) <= 500, len(comment)
    return comment


def _change_report_step(
    stage: IotStage, *, source: pipelines.IFileSetProducer, synth: pipelines.IFileSetProducer
) -> pipelines.CodeBuildStep:
    """Compares the stage's deployed templates (read through the CDK lookup role) with the new cloud assembly."""
    config = stage.config
    lookup_role = bootstrap_role_arn("lookup", config)
    return pipelines.CodeBuildStep(
        "ChangeReport",
        project_name=CHANGE_REPORT_PROJECT,
        input=source,
        additional_inputs={_ASSEMBLY_DIR: synth},
        install_commands=["make install"],
        env={
            variables.LOOKUP_ROLE_ARN: lookup_role,
            variables.STACKS: ",".join(stack_name(config.name, s.SERVICE.name) for s in stage.service_stacks),
            "AWS_DEFAULT_REGION": config.region,
        },
        commands=["make change-report"],
        primary_output_directory=CHANGE_REPORT_DIR,
        role_policy_statements=[iam.PolicyStatement(actions=["sts:AssumeRole"], resources=[lookup_role])],
        partial_build_spec=_install_runtimes(),
    )


def _verification_steps(
    stage: IotStage, *, source: pipelines.CodePipelineSource, synth: pipelines.IFileSetProducer
) -> list[pipelines.Step]:
    """The smoke test, the bake for a stage with a bake period (only after the smoke test passed), then the record of
    what the stage now runs (only after everything else passed)."""
    smoke = _smoke_test_step(stage)
    checks = [smoke, *_fault_injection_steps(stage, after=smoke)]
    checks += _bake_steps(stage, after=checks[-1])
    return [*checks, _record_step(stage, source=source, synth=synth, after=checks[-1])]


def _fault_injection_steps(stage: IotStage, *, after: pipelines.Step) -> list[pipelines.Step]:
    """Where the stage runs the fault injection experiment: after the smoke test, before the bake; it fails the
    pipeline when the experiment stops on its condition or a reading is lost (tools/steps/fault_injection.py)."""
    experiment = stage.config.fault_injection
    if experiment is None:
        return []
    role_arn = smoke_test_role_arn(stage.config.name, stage.config.account)
    step = pipelines.CodeBuildStep(
        f"FaultInjection{stage.node.id}",
        install_commands=["make install"],
        env_from_cfn_outputs=stage.verification_outputs(),  # the experiment's, and where readings land
        env={
            "AWS_DEFAULT_REGION": stage.config.region,
            variables.EXPERIMENT_RECOVERY_MINUTES: str(experiment.recovery_minutes),
        },
        commands=["make fault-injection"],
        role_policy_statements=[iam.PolicyStatement(actions=["sts:AssumeRole"], resources=[role_arn])],
        timeout=Duration.minutes(
            experiment.duration_minutes + experiment.recovery_minutes + _FAULT_INJECTION_OVERHEAD_MINUTES
        ),
        partial_build_spec=_install_runtimes(),
    )
    step.add_step_dependency(after)
    return [step]


def _bake_steps(stage: IotStage, *, after: pipelines.Step) -> list[pipelines.Step]:
    minutes = stage.config.delivery.bake_minutes
    if minutes == 0:
        return []
    role_arn = smoke_test_role_arn(stage.config.name, stage.config.account)
    role, alarm = ingest.Output.SMOKE_TEST_ROLE_ARN, observability.Output.COMPOSITE_ALARM_NAME
    bake = pipelines.CodeBuildStep(
        f"Bake{stage.node.id}",
        install_commands=["make install"],
        env_from_cfn_outputs={
            output_variable(ingest.SERVICE, role): stage.ingest.outputs[role],
            output_variable(observability.SERVICE, alarm): stage.observability.outputs[alarm],
        },
        env={"AWS_DEFAULT_REGION": stage.config.region, variables.BAKE_MINUTES: str(minutes)},
        commands=["make bake"],
        role_policy_statements=[iam.PolicyStatement(actions=["sts:AssumeRole"], resources=[role_arn])],
        timeout=Duration.minutes(minutes + _BAKE_OVERHEAD_MINUTES),
        partial_build_spec=_install_runtimes(),
    )
    bake.add_step_dependency(after)
    return [bake]


def _record_step(
    stage: IotStage, *, source: pipelines.CodePipelineSource, synth: pipelines.IFileSetProducer, after: pipelines.Step
) -> pipelines.Step:
    """Ends every stage: writes in the stage's account what it now runs (the commit, the cloud assembly's digest, this
    execution, the time) through the stage's smoke-test role, which may write that one SSM parameter."""
    role_arn = smoke_test_role_arn(stage.config.name, stage.config.account)
    role = ingest.Output.SMOKE_TEST_ROLE_ARN
    record = pipelines.CodeBuildStep(
        f"Record{stage.node.id}",
        input=source,
        additional_inputs={_ASSEMBLY_DIR: synth},
        install_commands=["make install"],
        env_from_cfn_outputs={output_variable(ingest.SERVICE, role): stage.ingest.outputs[role]},
        env={
            variables.STAGE_NAME: stage.config.name,
            variables.DEPLOYED_COMMIT: source.source_attribute("CommitId"),
            variables.PIPELINE_EXECUTION_ID: "#{codepipeline.PipelineExecutionId}",
            "AWS_DEFAULT_REGION": stage.config.region,
        },
        commands=["make record-deployment"],
        role_policy_statements=[iam.PolicyStatement(actions=["sts:AssumeRole"], resources=[role_arn])],
        partial_build_spec=_install_runtimes(),
    )
    record.add_step_dependency(after)
    return record


def _smoke_test_step(stage: IotStage) -> pipelines.Step:
    """Ends every stage: check the stack outputs, then put synthetic readings and prove where they landed.

    It runs in the tooling account and reaches the stage only through the smoke-test role deployed there.
    """
    role_arn = smoke_test_role_arn(stage.config.name, stage.config.account)
    return pipelines.CodeBuildStep(
        f"SmokeTest{stage.node.id}",
        install_commands=["make install"],
        env_from_cfn_outputs=stage.verification_outputs(),
        env={
            variables.STAGE_NAME: stage.config.name,
            variables.STAGE_ACCOUNT: stage.config.account,
            variables.STAGE_REGION: stage.config.region,
            "AWS_DEFAULT_REGION": stage.config.region,
        },
        commands=["make verify-stage", "make smoke-test"],
        role_policy_statements=[iam.PolicyStatement(actions=["sts:AssumeRole"], resources=[role_arn])],
        partial_build_spec=_install_runtimes(),
    )


# CDK Pipelines' permission check installs the CLI without a version and offers no setting for it.
_UNVERSIONED_CLI_INSTALL = f'"npm install -g {CDK_CLI}"'


def bootstrap_role_arn(kind: str, config: StageConfig) -> str:
    """A role ``cdk bootstrap`` made in the stage's account (``lookup``, ``deploy``...), by its default qualifier."""
    return f"arn:aws:iam::{config.account}:role/cdk-hnb659fds-{kind}-role-{config.account}-{config.region}"


def _use_the_locked_cli(pipeline: pipelines.CodePipeline, *, stages: list[IotStage]) -> None:
    """The asset step and the permission check install the locked CLI, as synth and self-mutation do.

    The asset step publishes with the CLI's ``publish-assets`` instead of CDK Pipelines' ``cdk-assets`` (a tool
    versioned apart from the CLI, whose newest release refuses this assembly's schema: ADR 0017).
    """
    for construct in pipeline.node.find_all():
        if isinstance(construct, codebuild.CfnProject) and "SecurityCheck" in construct.node.path:
            _pin_permission_check(construct)
        if isinstance(construct, codebuild.CfnProject) and "/Assets/" in construct.node.path:
            construct.add_property_override("Source.BuildSpec", json.dumps(_publish_assets_spec(stages), indent=2))
        if isinstance(construct, iam.Role) and construct.node.path.endswith("/Assets/FileRole"):
            # publish-assets first checks each stage's bootstrap version through the stage's deploy role, as
            # `cdk deploy` does; cdk-assets did not (the rehearsal's least-privilege check found it: ADR 0017).
            deploy_roles = [bootstrap_role_arn("deploy", stage.config) for stage in stages]
            construct.add_to_principal_policy(iam.PolicyStatement(actions=["sts:AssumeRole"], resources=deploy_roles))


def _publish_assets_spec(stages: list[IotStage]) -> dict[str, Any]:
    return {
        "version": "0.2",
        "phases": {
            "install": {"commands": [install_command(CDK_CLI)]},
            "build": {
                "commands": [
                    f"cdk -a . publish-assets --unstable=publish-assets '{stage.node.path}/*'" for stage in stages
                ]
            },
        },
    }


def _pin_permission_check(project: codebuild.CfnProject) -> None:
    source = project.source
    assert isinstance(source, codebuild.CfnProject.SourceProperty)
    # The buildspec is a token (it names the auto-approve function): pinned in its resolved form.
    build_spec = Stack.of(project).resolve(source.build_spec)
    pinned = _replaced(build_spec, _UNVERSIONED_CLI_INSTALL, f'"{install_command(CDK_CLI)}"')
    if pinned == build_spec:
        raise ValueError(f"{project.node.path}: no {_UNVERSIONED_CLI_INSTALL} in its buildspec to pin")
    project.add_property_override("Source.BuildSpec", pinned)


def _replaced(node: Any, old: str, new: str) -> Any:
    """``node`` (a resolved CloudFormation value) with ``old`` replaced by ``new`` in every string it holds."""
    if isinstance(node, str):
        return node.replace(old, new)
    if isinstance(node, list):
        return [_replaced(item, old, new) for item in node]
    if isinstance(node, dict):
        return {key: _replaced(value, old, new) for key, value in node.items()}
    return node


def _install_runtimes() -> codebuild.BuildSpec:
    return codebuild.BuildSpec.from_object({"phases": {"install": {"runtime-versions": _RUNTIME_VERSIONS}}})
