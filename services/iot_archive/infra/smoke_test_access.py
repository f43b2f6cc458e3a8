"""What the smoke test may read of the archive: its partitions and error prefix, and the key that decrypts them."""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from services.iot_archive.contract import ERROR_PREFIX, READINGS_PREFIX
from shared.infra.compliance import acknowledge, logical_id
from shared.infra.smoke_test_role import grant_smoke_test_role

PREFIXES = (READINGS_PREFIX, ERROR_PREFIX)


def grant_archive_read(scope: Construct, *, stage: str, bucket: s3.IBucket, key: kms.IKey) -> iam.Policy:
    policy = grant_smoke_test_role(
        scope,
        "SmokeTestArchiveRead",
        stage=stage,
        statements=[
            iam.PolicyStatement(
                sid="ListArchivePrefixes",
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{prefix}*" for prefix in PREFIXES]}},
            ),
            iam.PolicyStatement(
                sid="ReadArchivePrefixes",
                actions=["s3:GetObject"],
                resources=[bucket.arn_for_objects(f"{prefix}*") for prefix in PREFIXES],
            ),
            iam.PolicyStatement(sid="DecryptArchive", actions=["kms:Decrypt"], resources=[key.key_arn]),
        ],
    )
    for prefix in PREFIXES:
        acknowledge(
            policy,
            f"AwsSolutions-IAM5[Resource::<{logical_id(bucket)}.Arn>/{prefix}*]",
            f"The smoke test reads the objects its run produced under {prefix}; Firehose names them at run time.",
        )
    return policy
