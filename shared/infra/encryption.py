"""Customer-managed KMS keys with the defaults every service wants."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
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
