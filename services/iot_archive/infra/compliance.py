"""Every cdk-nag acknowledgement of the archive service, each on the narrowest construct, with why it is safe."""

from __future__ import annotations

from aws_cdk import aws_s3 as s3

from services.iot_archive.contract import ERROR_PREFIX, READINGS_PREFIX
from services.iot_archive.infra.delivery import ArchiveDelivery
from shared.infra.compliance import INLINE_POLICY_REASON, acknowledge, logical_id


def acknowledge_findings(*, delivery: ArchiveDelivery, raw_bucket: s3.IBucket) -> None:
    acknowledge(
        delivery.delivery_stream,
        "AwsSolutions-KDF1",
        "Firehose-side server-side encryption is not available with a Kinesis stream source; the source stream's "
        "customer-managed KMS key protects the data in transit through Firehose, the archive bucket's key at rest.",
    )
    for prefix in (READINGS_PREFIX, ERROR_PREFIX):
        acknowledge(
            delivery.role,
            f"AwsSolutions-IAM5[Resource::<{logical_id(raw_bucket)}.Arn>/{prefix}*]",
            f"Firehose names its objects under {prefix} from partition values and time; the prefix is all we can fix.",
        )
    acknowledge(delivery.role, "NIST.800.53.R5-IAMNoInlinePolicy", INLINE_POLICY_REASON)
