"""cdk-nag findings on the constructs CDK Pipelines generates, remedied where we can, acknowledged where not.

Everything here runs after ``build_pipeline()``, because the CodeBuild projects, roles and artifact bucket
exist only then.
"""

from __future__ import annotations

from aws_cdk import Stack, pipelines
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3

from shared.infra.compliance import INLINE_POLICY_REASON, acknowledge, logical_id
from shared.infra.secure_bucket import acknowledge_single_region

# Wildcards in the grants CDK gives every pipeline role on the pipeline's own artifact bucket and key.
_ARTIFACT_GRANT_WILDCARDS = (
    "Action::s3:Abort*",
    "Action::s3:DeleteObject*",
    "Action::s3:GetBucket*",
    "Action::s3:GetObject*",
    "Action::s3:List*",
    "Action::kms:GenerateDataKey*",
    "Action::kms:ReEncrypt*",
)


def harden_pipeline(pipeline: pipelines.CodePipeline, *, access_logs: s3.IBucket) -> None:
    stack = Stack.of(pipeline)
    artifacts = pipeline.pipeline.artifact_bucket
    _log_artifact_access(artifacts, access_logs)

    acknowledge_single_region(artifacts)
    # CDK Pipelines generates every role below this construct, each with its own inline policy.
    acknowledge(pipeline, "NIST.800.53.R5-IAMNoInlinePolicy", INLINE_POLICY_REASON)
    artifacts_id = logical_id(artifacts)
    for finding in (*_ARTIFACT_GRANT_WILDCARDS, f"Resource::<{artifacts_id}.Arn>/*"):
        acknowledge(
            pipeline,
            f"AwsSolutions-IAM5[{finding}]",
            "CDK's standard grant to pipeline roles, limited to the pipeline's own artifact bucket and its KMS key.",
        )
    for project in (node for node in pipeline.node.find_all() if isinstance(node, codebuild.Project)):
        project_id = logical_id(project)
        for resource in (
            f"arn:aws:logs:{stack.region}:{stack.account}:log-group:/aws/codebuild/<{project_id}>:*",
            f"arn:aws:codebuild:{stack.region}:{stack.account}:report-group/<{project_id}>-*",
        ):
            acknowledge(
                project,
                f"AwsSolutions-IAM5[Resource::{resource}]",
                "CodeBuild creates one log stream and report per build under this project's own name only.",
            )
    assets = pipeline.node.find_child("Assets")
    for resource in (
        f"arn:aws:logs:{stack.region}:{stack.account}:log-group:/aws/codebuild/*",
        f"arn:aws:codebuild:{stack.region}:{stack.account}:report-group/*",
    ):
        acknowledge(
            assets,
            f"AwsSolutions-IAM5[Resource::{resource}]",
            "The asset-publishing role CDK Pipelines shares across its generated asset projects (tooling account).",
        )
    acknowledge(
        assets,
        "AwsSolutions-IAM5[Resource::*]",
        "codebuild:StartBuild/BatchGetBuilds for the generated asset projects; sts:AssumeRole is limited to the "
        "stage accounts' CDK file-publishing roles.",
    )
    self_mutation = pipeline.node.find_child("UpdatePipeline").node.find_child("SelfMutation")
    acknowledge(
        self_mutation,
        f"AwsSolutions-IAM5[Resource::arn:*:iam::{stack.account}:role/*]",
        "Self-mutation assumes the CDK bootstrap roles of the tooling account; the role names are the bootstrap's.",
    )
    acknowledge(
        self_mutation,
        "AwsSolutions-IAM5[Resource::*]",
        "Only cloudformation:DescribeStacks, which supports no resource-level permission, is granted on *.",
    )


def acknowledge_security_check(pipeline: pipelines.CodePipeline) -> None:
    """CDK Pipelines' permission-broadening check: a CodeBuild project running ``cdk diff --security-only`` and a
    small Lambda that approves the check's manual approval when nothing broadens. Both are generated as they are."""
    check = pipeline.node.find_child("PipelinesSecurityCheck")
    auto_approve = check.node.find_child("CDKPipelinesAutoApprove")
    project = check.node.find_child("CDKSecurityCheck")
    acknowledge(
        project,
        "AwsSolutions-IAM5[Resource::*]",
        "sts:AssumeRole only on roles tagged aws-cdk:bootstrap-role=deploy (the stages' CDK deploy roles, which "
        "cdk diff reads templates through); CDK Pipelines generates this statement.",
    )
    acknowledge(
        project,
        f"AwsSolutions-IAM5[Resource::<{logical_id(auto_approve)}.Arn>:*]",
        "Invoking the check's own auto-approve function, any version of it; no other function.",
    )
    acknowledge(
        auto_approve,
        "AwsSolutions-IAM5[Resource::*]",
        "codepipeline:GetPipelineState/PutApprovalResult only on pipelines tagged SECURITY_CHECK=ALLOW_APPROVE.",
    )
    acknowledge(
        auto_approve,
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
        "CDK Pipelines' generated approval function writes its own logs with AWS's basic execution policy.",
    )
    generated_function = (
        "CDK Pipelines generates this function; it runs for a second per prod promotion to approve a check that "
        "found no broadening, so concurrency, DLQ, tracing, memory and VPC settings do not apply to it."
    )
    for rule in (
        "Serverless-LambdaDefaultMemorySize",
        "Serverless-LambdaDLQ",
        "Serverless-LambdaTracing",
        "NIST.800.53.R5-LambdaConcurrency",
        "NIST.800.53.R5-LambdaDLQ",
        "NIST.800.53.R5-LambdaInsideVPC",
    ):
        acknowledge(auto_approve, rule, generated_function)
    acknowledge(
        auto_approve,
        "NIST.800.53.R5-CloudWatchLogGroupEncrypted",
        "The generated approval function logs only pipeline names and approval results, no platform data.",
    )


def _log_artifact_access(artifacts: s3.IBucket, access_logs: s3.IBucket) -> None:
    """CDK Pipelines offers no access-log or versioning setting for its artifact bucket: set them on the L1."""
    prefix = "pipeline-artifacts/"
    bucket = artifacts.node.default_child
    assert isinstance(bucket, s3.CfnBucket)
    bucket.versioning_configuration = s3.CfnBucket.VersioningConfigurationProperty(status="Enabled")
    bucket.logging_configuration = s3.CfnBucket.LoggingConfigurationProperty(
        destination_bucket_name=access_logs.bucket_name, log_file_prefix=prefix
    )
    access_logs.add_to_resource_policy(
        iam.PolicyStatement(
            sid="PipelineArtifactsAccessLogs",
            principals=[iam.ServicePrincipal("logging.s3.amazonaws.com")],
            actions=["s3:PutObject"],
            resources=[access_logs.arn_for_objects(f"{prefix}*")],
            conditions={
                "ArnLike": {"aws:SourceArn": artifacts.bucket_arn},
                "StringEquals": {"aws:SourceAccount": Stack.of(artifacts).account},
            },
        )
    )
