"""S3 buckets that satisfy the platform's baseline: KMS, TLS only, versioned, logged, never public."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct, IConstruct

from shared.infra.compliance import acknowledge


def access_log_bucket(
    scope: Construct, construct_id: str, *, removal_policy: RemovalPolicy, expiration_days: int
) -> s3.Bucket:
    """The target for server access logs of a stack's data buckets.

    S3 log delivery only writes to buckets encrypted with SSE-S3, so this one cannot use a CMK.
    """
    bucket = s3.Bucket(
        scope,
        construct_id,
        encryption=s3.BucketEncryption.S3_MANAGED,
        enforce_ssl=True,
        versioned=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        removal_policy=removal_policy,
        lifecycle_rules=[
            s3.LifecycleRule(
                id="expire-logs",
                expiration=Duration.days(expiration_days),
                noncurrent_version_expiration=Duration.days(1),
            )
        ],
    )
    acknowledge(bucket, "AwsSolutions-S1", "This is the access-log bucket itself; logging it to itself would loop.")
    acknowledge(
        bucket,
        "NIST.800.53.R5-S3DefaultEncryptionKMS",
        "S3 server access log delivery writes only to buckets encrypted with SSE-S3, never SSE-KMS.",
    )
    acknowledge_single_region(bucket)
    return bucket


def data_bucket(
    scope: Construct,
    construct_id: str,
    *,
    encryption_key: kms.IKey,
    access_logs: s3.IBucket,
    removal_policy: RemovalPolicy,
    lifecycle_rules: Sequence[s3.LifecycleRule] = (),
) -> s3.Bucket:
    """A bucket for platform data: CMK-encrypted (with bucket keys), TLS only, versioned, access-logged."""
    bucket = s3.Bucket(
        scope,
        construct_id,
        encryption=s3.BucketEncryption.KMS,
        encryption_key=encryption_key,
        bucket_key_enabled=True,
        enforce_ssl=True,
        versioned=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        server_access_logs_bucket=access_logs,
        server_access_logs_prefix=f"{construct_id}/",
        removal_policy=removal_policy,
        lifecycle_rules=list(lifecycle_rules),
    )
    acknowledge_single_region(bucket)
    return bucket


def acknowledge_single_region(bucket: IConstruct) -> None:
    acknowledge(
        bucket,
        "NIST.800.53.R5-S3BucketReplicationEnabled",
        "Each stage runs in one region by design; objects are versioned and S3 keeps them across AZs, and readings "
        "can be replayed from the archive, so a cross-region copy would double cost without a recovery objective.",
    )
