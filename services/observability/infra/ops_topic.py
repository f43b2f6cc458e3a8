"""The ops SNS topic: KMS-encrypted, TLS only, e-mail subscriptions from config, separate from the anomaly alerts.

AWS services that publish to it (CloudWatch alarms, Budgets) need two grants each: ``sns:Publish`` in the topic
policy (once a topic has a policy, only what it allows gets in) and use of the topic's key in the key policy
(an account-root statement does not cover service principals). Without either, the alarm still changes state
but the notification is dropped, visible only in the alarm history.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from constructs import Construct

from shared.infra.email_subscriptions import subscribe_emails
from shared.infra.encryption import rotating_key

# What a publishing service needs from the key: a data key to encrypt the message, and decrypting that data key.
PUBLISHER_KEY_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey*")


class OpsTopic(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, emails: Sequence[str], removal_policy: RemovalPolicy
    ) -> None:
        super().__init__(scope, construct_id)
        self.key = rotating_key(
            self, "Key", description="Encrypts ops notifications (alarms, budgets)", removal_policy=removal_policy
        )
        self.topic = sns.Topic(self, "Topic", master_key=self.key, enforce_ssl=True)
        subscribe_emails(self.topic, emails)

    def allow_service_to_publish(self, *, sid: str, service: str, source_arn: str) -> None:
        """Let ``service`` publish, only on behalf of this account and of resources matching ``source_arn``
        (the confused-deputy conditions both the topic and the key policy honour)."""
        principal = iam.ServicePrincipal(service)
        conditions = {
            "StringEquals": {"aws:SourceAccount": Stack.of(self).account},
            "ArnLike": {"aws:SourceArn": source_arn},
        }
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid=sid,
                principals=[principal],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions=conditions,
            )
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid=sid,
                principals=[principal],
                actions=list(PUBLISHER_KEY_ACTIONS),
                resources=["*"],  # in a key policy, "*" means this key
                conditions=conditions,
            )
        )
