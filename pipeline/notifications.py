"""Who hears about the pipeline: failed executions, approvals waiting, and finished (prod-deployed) executions.

A KMS-encrypted topic in the tooling account. Its key and topic policies let exactly the notification service
(AWS CodeStar Notifications, which delivers CodePipeline's notification rules) use them, nothing else.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_sns as sns
from constructs import Construct

from shared.infra.email_subscriptions import subscribe_emails
from shared.infra.encryption import rotating_key

NOTIFICATION_SERVICE = "codestar-notifications.amazonaws.com"
# The pipeline ends with Prod, so a succeeded execution is a prod deploy that passed its smoke test.
EVENTS = (
    codepipeline.PipelineNotificationEvents.PIPELINE_EXECUTION_FAILED,
    codepipeline.PipelineNotificationEvents.MANUAL_APPROVAL_NEEDED,
    codepipeline.PipelineNotificationEvents.PIPELINE_EXECUTION_SUCCEEDED,
)


class PipelineNotifications(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, pipeline: codepipeline.Pipeline, emails: tuple[str, ...]
    ) -> None:
        super().__init__(scope, construct_id)
        self.key = rotating_key(
            self, "Key", description="Encrypts the pipeline's notification topic", removal_policy=RemovalPolicy.DESTROY
        )
        self.topic = sns.Topic(self, "Topic", master_key=self.key, enforce_ssl=True)
        subscribe_emails(self.topic, emails)
        # notify_on grants the notification service, and only it, sns:Publish on the topic and use of its key.
        self.rule = pipeline.notify_on("Rule", self.topic, events=list(EVENTS))
