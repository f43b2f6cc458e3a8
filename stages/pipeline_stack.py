"""The self-mutating delivery pipeline: GitHub main -> synth -> Dev -> Staging -> approval -> Prod."""

from __future__ import annotations

from typing import Any

from aws_cdk import RemovalPolicy, Stack, pipelines
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_iam as iam
from constructs import Construct

from shared.infra.naming import smoke_test_role_arn
from shared.infra.secure_bucket import access_log_bucket
from stages.config import PlatformConfig, StageConfig
from stages.iot_stage import IotStage
from stages.pipeline_compliance import harden_pipeline

# CodeBuild's standard image ships several runtimes; pin the ones the Makefile expects.
_RUNTIME_VERSIONS = {"python": "3.12", "nodejs": "22"}
_ASSEMBLY_DIR = "cdk.out"


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
        self.pipeline = pipelines.CodePipeline(
            self,
            "Pipeline",
            pipeline_name="iot-platform",
            pipeline_type=codepipeline.PipelineType.V2,
            self_mutation=True,
            cross_account_keys=True,
            enable_key_rotation=True,
            publish_assets_in_parallel=False,
            docker_enabled_for_synth=False,
            synth=pipelines.CodeBuildStep(
                "Synth",
                input=source,
                install_commands=["make install"],
                # Unit and infra tests, synth with cdk-nag, and the Markdown compliance report inside cdk.out,
                # so the report travels with the cloud assembly as a build artifact.
                commands=["make pipeline-synth"],
                primary_output_directory=_ASSEMBLY_DIR,
                partial_build_spec=_install_runtimes(),
            ),
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
            self.pipeline.add_stage(stage, pre=_approval_before(stage_config), post=[_smoke_test_step(stage)])
        self.pipeline.build_pipeline()
        access_logs = access_log_bucket(self, "AccessLogs", removal_policy=RemovalPolicy.RETAIN, expiration_days=365)
        harden_pipeline(self.pipeline, access_logs=access_logs)


def _approval_before(config: StageConfig) -> list[pipelines.Step]:
    if not config.is_production:
        return []
    return [
        pipelines.ManualApprovalStep(
            "PromoteToProd",
            comment=(
                "Promote to prod? Before approving check: the Staging smoke test passed in this execution; "
                "the iot-staging dashboard shows no alarm in ALARM and iterator age near zero; "
                "the changes (cdk diff in the Synth logs, nag report in the cloud assembly) are the ones you expect."
            ),
        )
    ]


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
            "STAGE_NAME": stage.config.name,
            "STAGE_ACCOUNT": stage.config.account,
            "STAGE_REGION": stage.config.region,
            "AWS_DEFAULT_REGION": stage.config.region,
        },
        commands=["make verify-stage", "make smoke-test"],
        role_policy_statements=[iam.PolicyStatement(actions=["sts:AssumeRole"], resources=[role_arn])],
        partial_build_spec=_install_runtimes(),
    )


def _install_runtimes() -> codebuild.BuildSpec:
    return codebuild.BuildSpec.from_object({"phases": {"install": {"runtime-versions": _RUNTIME_VERSIONS}}})
