"""Customer-managed KMS keys with the defaults every service wants."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct


def rotating_key(scope: Construct, construct_id: str, *, description: str, removal_policy: RemovalPolicy) -> kms.Key:
    """A symmetric CMK with yearly automatic rotation and a deletion window long enough to notice a mistake."""
    return kms.Key(
        scope,
        construct_id,
        description=description,
        enable_key_rotation=True,
        pending_window=Duration.days(30),
        removal_policy=removal_policy,
    )


def encrypted_log_group(
    scope: Construct, construct_id: str, *, key: kms.IKey, retention: logs.RetentionDays, removal_policy: RemovalPolicy
) -> logs.LogGroup:
    """A log group encrypted with ``key``, whose policy lets this account's CloudWatch Logs use it for log groups."""
    stack = Stack.of(scope)
    log_groups = f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:log-group:*"
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="CloudWatchLogsEncryptsLogGroups",
            principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
            actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            resources=["*"],  # in a key policy, "*" is this key
            conditions={"ArnLike": {"kms:EncryptionContext:aws:logs:arn": log_groups}},
        )
    )
    return logs.LogGroup(scope, construct_id, encryption_key=key, retention=retention, removal_policy=removal_policy)
