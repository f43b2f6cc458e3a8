"""The role a smoke test assumes from the tooling account: put to this stream, read where readings land."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from constructs import Construct

from services.iot_processor.infra.alerts import AnomalyAlerts
from services.iot_processor.infra.storage import ReadingsStorage
from services.iot_processor.infra.stream import ReadingsStream
from services.iot_processor.runtime.objects import QUARANTINE_PREFIX
from services.iot_processor.runtime.table import ANOMALY_INDEX


class SmokeTestAccess(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        role_name: str,
        trusted_account: str,
        readings: ReadingsStream,
        storage: ReadingsStorage,
        alerts: AnomalyAlerts,
    ) -> None:
        super().__init__(scope, construct_id)
        self.role = iam.Role(
            self,
            "Role",
            role_name=role_name,
            assumed_by=iam.AccountPrincipal(trusted_account),
            description="Assumed by the pipeline's smoke test: put synthetic readings, read where they land",
            max_session_duration=Duration.hours(1),
        )
        readings.stream.grant_write(self.role)
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadReadingsTable",
                actions=["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"],
                resources=[storage.table.table_arn, f"{storage.table.table_arn}/index/{ANOMALY_INDEX}"],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadQuarantineAndFailures",
                actions=["s3:GetObject", "s3:ListBucket"],
                resources=[
                    storage.processed_bucket.bucket_arn,
                    storage.processed_bucket.arn_for_objects(f"{QUARANTINE_PREFIX}*"),
                    storage.failure_bucket.bucket_arn,
                    storage.failure_bucket.arn_for_objects("*"),
                ],
            )
        )
        storage.key.grant_decrypt(self.role)
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="SeeAlertTopic", actions=["sns:GetTopicAttributes"], resources=[alerts.topic.topic_arn]
            )
        )
