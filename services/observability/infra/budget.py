"""A monthly cost budget for the stage's account, notifying the ops topic at each configured percentage.

Each stage has its own account, so the budget covers the whole account rather than filtering on a cost
allocation tag (tags must be activated in the payer account first, and untagged spend would go unseen).
Notifications go to the ops topic only: its e-mail subscribers receive them there, once, and a budget
notification needs at least one subscriber even when a stage has no ops e-mails configured.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Stack
from aws_cdk import aws_budgets as budgets
from constructs import Construct

from services.observability.infra.naming import stage_resource_name
from services.observability.infra.ops_topic import OpsTopic


class MonthlyBudget(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        amount_usd: int,
        alert_percents: Sequence[int],
        topic: OpsTopic,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        # Budget ARNs carry no region: arn:<partition>:budgets::<account>:budget/<name>.
        topic.allow_service_to_publish(
            sid="BudgetsOfThisAccount",
            service="budgets.amazonaws.com",
            source_arn=stack.format_arn(service="budgets", region="", resource="*"),
        )
        self.budget = budgets.CfnBudget(
            self,
            "Budget",
            budget=budgets.CfnBudget.BudgetDataProperty(
                budget_name=stage_resource_name(stage, "monthly-cost"),
                budget_type="COST",
                time_unit="MONTHLY",
                budget_limit=budgets.CfnBudget.SpendProperty(amount=amount_usd, unit="USD"),
            ),
            notifications_with_subscribers=[
                budgets.CfnBudget.NotificationWithSubscribersProperty(
                    notification=budgets.CfnBudget.NotificationProperty(
                        notification_type="ACTUAL",
                        comparison_operator="GREATER_THAN",
                        threshold=percent,
                        threshold_type="PERCENTAGE",
                    ),
                    subscribers=[
                        budgets.CfnBudget.SubscriberProperty(subscription_type="SNS", address=topic.topic.topic_arn)
                    ],
                )
                for percent in alert_percents
            ],
        )
        # AWS Budgets checks at creation that it may publish to the topic: the topic and key policies come first.
        self.budget.node.add_dependency(topic)
