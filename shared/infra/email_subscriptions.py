"""E-mail subscriptions to a topic: the alert, ops and pipeline topics tell people by e-mail."""

from __future__ import annotations

from collections.abc import Iterable

from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions

from shared.infra.compliance import acknowledge

_NO_DEAD_LETTERS = (
    "An e-mail endpoint is a person's inbox: SNS retries the delivery itself, and what an e-mail says is kept where "
    "it came from (the alarm's history, the readings table's anomaly index, the pipeline's history), so a "
    "dead-letter queue of undelivered e-mails would be read by no one."
)


def subscribe_emails(topic: sns.Topic, emails: Iterable[str]) -> None:
    for address in emails:
        subscription = topic.add_subscription(subscriptions.EmailSubscription(address))
        acknowledge(subscription, "Serverless-SNSRedrivePolicy", _NO_DEAD_LETTERS)
