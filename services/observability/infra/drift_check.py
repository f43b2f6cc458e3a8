"""The scheduled drift check: EventBridge runs a small Lambda that has CloudFormation detect drift on every stack of the
stage and tells the ops topic what drifted (runtime/drift.py, docs/decisions/0014).

CloudFormation reads each resource with the credentials of whoever asked for the detection, so the function's role
holds exactly the read actions drift detection needs for the resource types of the stage's stacks (``READ_ACTIONS``),
none that reads data or changes anything. An invocation that fails after Lambda's retry sends its error to the ops
topic (the function's on-failure destination; docs/runbooks.md#drift-check-failed).
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from constructs import Construct

from services.observability.config import DriftCheckConfig
from services.observability.infra.ops_topic import OpsTopic
from services.observability.runtime import drift_handler
from services.observability.runtime.drift import encode_rules
from shared.infra.encryption import encrypted_log_group
from shared.repository import REPO_ROOT

HANDLER = "services.observability.runtime.drift_handler.lambda_handler"
# The runtime modules and their package markers: boto3 comes with Lambda's Python runtime.
SOURCES = (
    Path("services/__init__.py"),
    Path("services/observability/__init__.py"),
    Path("services/observability/runtime/__init__.py"),
    Path("services/observability/runtime/drift.py"),
    Path("services/observability/runtime/drift_handler.py"),
)
# Detections of three stacks take a few minutes; the handler stops waiting a minute before this.
TIMEOUT = Duration.minutes(14)
LOG_RETENTION = logs.RetentionDays.THREE_MONTHS
# A failed check is tried once more; after that its error goes to the ops topic and the next schedule checks again.
RETRY_ATTEMPTS = 1

DRIFT_ACTIONS = (
    "cloudformation:DescribeStacks",
    "cloudformation:ListStackResources",
    "cloudformation:DetectStackDrift",
    "cloudformation:DetectStackResourceDrift",  # authorized for each resource of a stack detection
    "cloudformation:DescribeStackResourceDrifts",
)
# What drift detection reads per resource type, with the caller's credentials: the read handler's permissions in
# CloudFormation's registry schema of the type; for the types the registry has no handler for (the policy resources),
# the call that returns their document. Never granted, though some handlers ask: secretsmanager:GetSecretValue (the
# secret itself; the check leaves secrets out), kms:Decrypt (the stage's data), lakeformation:GetDataAccess (credentials
# to the archive's data), glue:CreateTable, lakeformation:CreateTable and iam:PassRole (they change things). Detection
# of a resource that needs one of them fails, naming the action. tests/test_drift_permissions.py holds the role to the
# schemas and to the types the stage's stacks contain.
READ_ACTIONS: Mapping[str, tuple[str, ...]] = {
    "AWS::ApplicationAutoScaling::ScalableTarget": (
        "application-autoscaling:DescribeScalableTargets",
        "application-autoscaling:DescribeScheduledActions",
        "application-autoscaling:ListTagsForResource",
    ),
    "AWS::ApplicationAutoScaling::ScalingPolicy": (
        "application-autoscaling:DescribeScalingPolicies",
        "application-autoscaling:ListTagsForResource",
    ),
    "AWS::Athena::WorkGroup": ("athena:GetWorkGroup", "athena:ListTagsForResource"),
    "AWS::Backup::BackupPlan": ("backup:GetBackupPlan", "backup:ListTags"),
    "AWS::Backup::BackupSelection": ("backup:GetBackupSelection",),
    "AWS::Backup::BackupVault": (
        "backup:DescribeBackupVault",
        "backup:GetBackupVaultAccessPolicy",
        "backup:GetBackupVaultNotifications",
        "backup:ListTags",
    ),
    "AWS::Budgets::Budget": ("budgets:ViewBudget", "budgets:ListTagsForResource", "billing:GetBillingViewData"),
    "AWS::CloudWatch::Alarm": ("cloudwatch:DescribeAlarms", "cloudwatch:ListTagsForResource"),
    "AWS::CloudWatch::CompositeAlarm": ("cloudwatch:DescribeAlarms", "cloudwatch:ListTagsForResource"),
    "AWS::CloudWatch::Dashboard": ("cloudwatch:GetDashboard", "cloudwatch:ListTagsForResource"),
    "AWS::CodeDeploy::Application": ("codedeploy:GetApplication", "codedeploy:ListTagsForResource"),
    "AWS::CodeDeploy::DeploymentGroup": (
        "codedeploy:GetDeploymentGroup",
        "codedeploy:ListTagsForResource",
        "codedeploy:ListDeployments",
        "codedeploy:GetDeployment",
    ),
    "AWS::DynamoDB::Table": (
        "dynamodb:DescribeTable",
        "dynamodb:DescribeContinuousBackups",
        "dynamodb:DescribeContributorInsights",
        "dynamodb:DescribeKinesisStreamingDestination",
        "dynamodb:ListTagsOfResource",
        "dynamodb:GetResourcePolicy",
        "dynamodb:DescribeTimeToLive",
    ),
    "AWS::Events::Rule": ("events:DescribeRule", "events:ListTargetsByRule", "events:ListTagsForResource"),
    "AWS::FIS::ExperimentTemplate": ("fis:GetExperimentTemplate", "fis:ListTagsForResource"),
    "AWS::Glue::Database": (
        "glue:GetDatabase",
        "glue:GetConnection",
        "lakeformation:ListResources",
        "lakeformation:DescribeResource",
        "lakeformation:DescribeLakeFormationIdentityCenterConfiguration",
    ),
    "AWS::Glue::Table": (
        "glue:GetDatabase",
        "glue:GetTable",
        "lakeformation:ListResources",
        "lakeformation:DescribeResource",
        "lakeformation:DescribeLakeFormationIdentityCenterConfiguration",
    ),
    "AWS::IAM::Policy": ("iam:GetRolePolicy",),
    "AWS::IAM::Role": ("iam:GetRole", "iam:ListAttachedRolePolicies", "iam:ListRolePolicies", "iam:GetRolePolicy"),
    "AWS::IoT::Policy": ("iot:GetPolicy", "iot:ListTagsForResource"),
    "AWS::IoT::TopicRule": ("iot:GetTopicRule", "iot:ListTagsForResource"),
    "AWS::KMS::Key": ("kms:DescribeKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:ListResourceTags"),
    "AWS::Kinesis::Stream": (
        "kinesis:DescribeStreamSummary",
        "kinesis:ListTagsForStream",
        "kinesis:ListTagsForResource",
    ),
    "AWS::KinesisFirehose::DeliveryStream": (
        "firehose:DescribeDeliveryStream",
        "firehose:ListTagsForDeliveryStream",
    ),
    "AWS::Lambda::Alias": ("lambda:GetAlias", "lambda:GetProvisionedConcurrencyConfig"),
    "AWS::Lambda::EventInvokeConfig": ("lambda:GetFunctionEventInvokeConfig",),
    "AWS::Lambda::EventSourceMapping": ("lambda:GetEventSourceMapping", "lambda:ListTags"),
    "AWS::Lambda::Function": (
        "lambda:GetFunction",
        "lambda:GetFunctionCodeSigningConfig",
        "lambda:GetFunctionRecursionConfig",
        "lambda:GetRuntimeManagementConfig",
        "lambda:GetFunctionScalingConfig",
    ),
    "AWS::Lambda::Permission": ("lambda:GetPolicy",),
    "AWS::Lambda::Version": (
        "lambda:GetFunctionConfiguration",
        "lambda:GetProvisionedConcurrencyConfig",
        "lambda:GetRuntimeManagementConfig",
        "lambda:GetFunctionScalingConfig",
    ),
    "AWS::Logs::LogGroup": (
        "logs:DescribeLogGroups",
        "logs:ListTagsForResource",
        "logs:GetDataProtectionPolicy",
        "logs:DescribeIndexPolicies",
        "logs:DescribeResourcePolicies",
    ),
    "AWS::Logs::LogStream": ("logs:DescribeLogStreams",),
    "AWS::S3::Bucket": (
        "s3:GetAccelerateConfiguration",
        "s3:GetLifecycleConfiguration",
        "s3:GetBucketPublicAccessBlock",
        "s3:GetAnalyticsConfiguration",
        "s3:GetBucketCORS",
        "s3:GetEncryptionConfiguration",
        "s3:GetInventoryConfiguration",
        "s3:GetBucketLogging",
        "s3:GetMetricsConfiguration",
        "s3:GetBucketNotification",
        "s3:GetBucketVersioning",
        "s3:GetReplicationConfiguration",
        "s3:GetBucketWebsite",
        "s3:GetBucketObjectLockConfiguration",
        "s3:GetBucketTagging",
        "s3:ListTagsForResource",
        "s3:GetBucketAbac",
        "s3:GetBucketOwnershipControls",
        "s3:GetIntelligentTieringConfiguration",
        "s3:GetBucketMetadataTableConfiguration",
        "s3:ListBucket",
    ),
    "AWS::S3::BucketPolicy": ("s3:GetBucketPolicy",),
    "AWS::SNS::Subscription": ("sns:GetSubscriptionAttributes",),
    "AWS::SNS::Topic": (
        "sns:GetTopicAttributes",
        "sns:ListTagsForResource",
        "sns:ListSubscriptionsByTopic",
        "sns:GetDataProtectionPolicy",
    ),
    "AWS::SNS::TopicPolicy": ("sns:GetTopicAttributes",),
    "AWS::SQS::Queue": ("sqs:GetQueueAttributes", "sqs:ListQueueTags"),
    "AWS::SQS::QueuePolicy": ("sqs:GetQueueAttributes",),
    "AWS::SSM::Parameter": ("ssm:GetParameters", "ssm:ListTagsForResource"),
}


class DriftCheck(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        stacks: Sequence[str],
        config: DriftCheckConfig,
        topic: OpsTopic,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        log_group = encrypted_log_group(
            self, "Logs", key=topic.key, retention=LOG_RETENTION, removal_policy=removal_policy
        )
        # Our own role: the default one carries AWSLambdaBasicExecutionRole, which can write to any log group.
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"The {stage} drift check: CloudFormation drift detection on the stage's stacks, read only",
        )
        log_group.grant_write(self.role)
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="DetectDriftOfTheStagesStacks",
                actions=list(DRIFT_ACTIONS),
                resources=[
                    stack.format_arn(service="cloudformation", resource="stack", resource_name=f"{name}/*")
                    for name in stacks
                ],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="FollowTheDetections",  # it names a detection id, not a stack: no resource-level permission
                actions=["cloudformation:DescribeStackDriftDetectionStatus"],
                resources=["*"],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadTheStacksResourcesConfiguration",
                actions=sorted({action for actions in READ_ACTIONS.values() for action in actions}),
                resources=["*"],
            )
        )
        self.function = lambda_.Function(
            self,
            "Function",
            description=f"Daily drift check of the {stage} stacks: CloudFormation drift detection, then the ops topic",
            role=self.role,
            runtime=lambda_.Runtime.PYTHON_3_14,
            architecture=lambda_.Architecture.ARM_64,
            handler=HANDLER,
            code=lambda_.Code.from_asset(str(build_bundle())),
            memory_size=256,
            timeout=TIMEOUT,
            reserved_concurrent_executions=1,  # one check at a time: a second would only repeat the first
            tracing=lambda_.Tracing.ACTIVE,
            log_group=log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            environment={
                drift_handler.STAGE_NAME: stage,
                drift_handler.STACK_NAMES: ",".join(stacks),
                drift_handler.TOPIC_ARN: topic.topic.topic_arn,
                drift_handler.IGNORE_RULES: encode_rules(config.ignore),
            },
            retry_attempts=RETRY_ATTEMPTS,
            on_failure=destinations.SnsDestination(topic.topic),
        )
        topic.topic.grant_publish(self.role)
        self.schedule = events.Rule(
            self,
            "Schedule",
            description=f"Runs the {stage} drift check",
            schedule=events.Schedule.expression(config.schedule),
            targets=[targets.LambdaFunction(self.function, retry_attempts=RETRY_ATTEMPTS)],
        )


def build_bundle(build_root: Path = REPO_ROOT / "build") -> Path:
    """The asset directory: the runtime modules as they are now, built once per content hash."""
    digest = hashlib.sha256()
    for path in SOURCES:
        digest.update(str(path).encode())
        digest.update((REPO_ROOT / path).read_bytes())
    target = build_root / f"drift-check-{digest.hexdigest()[:20]}"
    if target.exists():
        return target
    build_root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="drift-check-", dir=build_root))
    for path in SOURCES:
        (staging / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / path, staging / path)
    try:
        staging.rename(target)
    except OSError:  # another synth (a parallel test worker) built the same sources first
        shutil.rmtree(staging)
    return target
