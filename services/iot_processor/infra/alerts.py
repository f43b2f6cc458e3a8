"""Anomaly alerts: the SNS topic subscribers filter by sensor type and severity, and the webhook secret."""

from __future__ import annotations

import json

from aws_cdk import RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from constructs import Construct

from shared.infra.email_subscriptions import subscribe_emails


class AnomalyAlerts(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        encryption_key: kms.IKey,
        emails: tuple[str, ...],
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(self, "Topic", master_key=encryption_key, enforce_ssl=True)
        subscribe_emails(self.topic, emails)
        # Operators put {"url": "https://...", "token": "..."} here; an empty url means no webhook.
        self.webhook_secret = secretsmanager.Secret(
            self,
            "WebhookSecret",
            description="Alert webhook: JSON with url (https) and token; empty url disables the webhook",
            encryption_key=encryption_key,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=json.dumps({"url": ""}),
                generate_string_key="token",
                exclude_punctuation=True,
            ),
            removal_policy=removal_policy,
        )
