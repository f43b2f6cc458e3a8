"""The role a smoke test assumes from the tooling account: put to this stream, read where readings land.

Alerts reach the smoke test through its own queue, subscribed to the alert topic with a filter policy on the
message body that admits only smoke-test runs: real alerts never wait in it, and it holds nothing for long.
The archive and observability stacks grant this role read on what they own (the archive's partitions, the
stage's composite alarm for the bake), since they are deployed after this stack.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from services.iot_processor.contract import ANOMALY_INDEX, QUARANTINE_PREFIX
from services.iot_processor.infra.alerts import AnomalyAlerts
from services.iot_processor.infra.storage import ReadingsStorage
from services.iot_processor.infra.stream import ReadingsStream
from shared.infra.naming import SMOKE_SENSOR_PREFIX

# Long enough for one smoke test to read its alerts, short enough that nothing piles up between runs.
ALERT_INBOX_RETENTION = Duration.hours(1)


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
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self.alert_inbox = sqs.Queue(
            self,
            "AlertInbox",
            # SQS-managed keys: the stage key would need a key-policy grant naming the alert topic, a cycle.
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=ALERT_INBOX_RETENTION,
            removal_policy=removal_policy,
        )
        alerts.topic.add_subscription(
            subscriptions.SqsSubscription(
                self.alert_inbox,
                raw_message_delivery=True,
                filter_policy_with_message_body={
                    "sensor_id": sns.FilterOrPolicy.filter(
                        sns.SubscriptionFilter.string_filter(match_prefixes=[SMOKE_SENSOR_PREFIX])
                    )
                },
            )
        )
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
                sid="ReadAlertInbox",
                actions=["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
                resources=[self.alert_inbox.queue_arn],
            )
        )
