"""Observability service stack: composes the ops topic, the data path's alarms and dashboard, and the budget."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from constructs import Construct

from services.archive.infra.stack import ArchiveSharedValues
from services.ingest.infra.stack import IngestSharedValues
from services.observability.infra.alarms import DataPathAlarms
from services.observability.infra.budget import MonthlyBudget
from services.observability.infra.dashboard import DataPathDashboard
from services.observability.infra.metrics import DataPathMetrics, WatchedResources
from services.observability.infra.ops_topic import OpsTopic
from shared.infra.service import ServiceIdentity, ServiceStack
from shared.infra.smoke_test_role import grant_smoke_test_role
from stages.config import StageConfig


class ObservabilityStack(ServiceStack):
    SERVICE = ServiceIdentity(name="observability", owner_team="iot-sre")

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        ingest: IngestSharedValues,
        archive: ArchiveSharedValues,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            scope, construct_id, config=config, description="dashboard, alarms, ops topic, budget", **kwargs
        )
        watch = config.observability
        ops = OpsTopic(self, "Ops", emails=watch.ops_emails, removal_policy=self.removal_policy)
        metrics = DataPathMetrics(WatchedResources.read(self, ingest=ingest, archive=archive))
        alarms = DataPathAlarms(
            self,
            "Alarms",
            stage=config.name,
            config=watch,
            firehose_buffer_interval=Duration.seconds(config.archive.buffer_interval_seconds),
            metrics=metrics,
            topic=ops,
        )
        dashboard = DataPathDashboard(self, "Dashboard", stage=config.name, metrics=metrics, alarms=alarms)
        MonthlyBudget(
            self,
            "Budget",
            stage=config.name,
            amount_usd=watch.monthly_budget_usd,
            alert_percents=watch.budget_alert_percents,
            topic=ops,
        )
        # The pipeline's bake step watches the composite alarm through the stage's smoke-test role.
        grant_smoke_test_role(
            self,
            "BakeAlarmRead",
            stage=config.name,
            statements=[
                iam.PolicyStatement(
                    sid="ReadCompositeAlarm",
                    actions=["cloudwatch:DescribeAlarms"],
                    resources=[alarms.composite.alarm_arn],
                )
            ],
        )
        self.ops_topic = ops.topic
        self.output("OpsTopicArn", ops.topic.topic_arn, "SNS topic alarms and the budget notify")
        self.output("DashboardName", dashboard.dashboard.dashboard_name, "CloudWatch dashboard of the data path")
        self.output("CompositeAlarmName", alarms.composite.alarm_name, "Composite alarm: any data-path alarm in ALARM")
