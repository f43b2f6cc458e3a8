"""Observability service stack: composes the ops topic, the data path's alarms and dashboard, and the budget."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from constructs import Construct

from services.iot_processor import contract as ingest
from services.observability import contract
from services.observability.config import ObservabilityConfig
from services.observability.infra.alarms import DataPathAlarms, WriteCeilings
from services.observability.infra.budget import MonthlyBudget
from services.observability.infra.compliance import acknowledge_experiment_findings, acknowledge_findings
from services.observability.infra.dashboard import DataPathDashboard
from services.observability.infra.drift_check import DriftCheck
from services.observability.infra.fault_injection import FaultInjectionExperiment
from services.observability.infra.metrics import DataPathMetrics, WatchedResources
from services.observability.infra.ops_topic import OpsTopic
from shared.environment import StageEnvironment
from shared.infra.service import ServiceIdentity, ServiceStack
from shared.infra.smoke_test_role import grant_smoke_test_role


class ObservabilityStack(ServiceStack):
    SERVICE = ServiceIdentity(name=contract.SERVICE, owner_team=contract.OWNER_TEAM)

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        environment: StageEnvironment,
        config: ObservabilityConfig,
        firehose_buffer_interval: Duration,
        write_ceilings: WriteCeilings | None,
        monthly_budget_usd: int,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            scope, construct_id, environment=environment, description="dashboard, alarms, ops topic, budget", **kwargs
        )
        watch, stage = config, environment.name
        ops = OpsTopic(self, "Ops", emails=watch.ops_emails, removal_policy=self.removal_policy)
        metrics = DataPathMetrics(WatchedResources.read(self))
        alarms = DataPathAlarms(
            self,
            "Alarms",
            stage=stage,
            config=watch,
            firehose_buffer_interval=firehose_buffer_interval,
            write_ceilings=write_ceilings,
            metrics=metrics,
            topic=ops,
        )
        dashboard = DataPathDashboard(self, "Dashboard", stage=stage, metrics=metrics, alarms=alarms)
        MonthlyBudget(
            self,
            "Budget",
            stage=stage,
            amount_usd=monthly_budget_usd,
            alert_percents=watch.budget_alert_percents,
            topic=ops,
        )
        # The pipeline's bake step watches the composite alarm through the stage's smoke-test role.
        grant_smoke_test_role(
            self,
            "BakeAlarmRead",
            stage=stage,
            statements=[
                iam.PolicyStatement(
                    sid="ReadCompositeAlarm",
                    actions=["cloudwatch:DescribeAlarms"],
                    resources=[alarms.composite.alarm_arn],
                )
            ],
        )
        # The pipeline's last step of the stage records what the stage now runs, through the same role.
        grant_smoke_test_role(
            self,
            "DeploymentRecordWrite",
            stage=stage,
            statements=[
                iam.PolicyStatement(
                    sid="RecordWhatTheStageRuns",
                    actions=["ssm:PutParameter"],
                    resources=[
                        self.format_arn(
                            service="ssm",
                            resource="parameter",
                            resource_name=contract.deployment_record_parameter(stage).removeprefix("/"),
                        )
                    ],
                )
            ],
        )
        # CloudFormation's drift detection on every stack of the stage, on the configured schedule.
        self.drift_check = DriftCheck(
            self,
            "DriftCheck",
            stage=stage,
            stacks=contract.drift_checked_stacks(stage),
            config=watch.drift,
            topic=ops,
            removal_policy=self.removal_policy,
        )
        acknowledge_findings(drift_check=self.drift_check, stacks=contract.drift_checked_stacks(stage))
        self.ops_topic = ops.topic
        self.output(contract.Output.OPS_TOPIC_ARN, ops.topic.topic_arn, "SNS topic alarms and the budget notify")
        self.output(
            contract.Output.DASHBOARD_NAME, dashboard.dashboard.dashboard_name, "CloudWatch dashboard of the data path"
        )
        self.output(
            contract.Output.COMPOSITE_ALARM_NAME,
            alarms.composite.alarm_name,
            "Composite alarm: any data-path alarm in ALARM",
        )
        if environment.fault_injection is not None:
            self._add_experiment(environment, alarms)

    def _add_experiment(self, environment: StageEnvironment, alarms: DataPathAlarms) -> None:
        """The fault injection experiment, which the pipeline's step starts and watches through the smoke-test role."""
        assert environment.fault_injection is not None
        stage = environment.name
        experiment = FaultInjectionExperiment(
            self,
            "FaultInjection",
            stage=stage,
            config=environment.fault_injection,
            alarms=alarms,
            function_name=self.read_shared(ingest.SERVICE, ingest.SharedKey.FUNCTION_NAME),
            configuration_bucket_name=self.read_shared(
                ingest.SERVICE, ingest.SharedKey.FAULT_CONFIGURATION_BUCKET_NAME
            ),
            configuration_key_arn=self.read_shared(ingest.SERVICE, ingest.SharedKey.FAULT_CONFIGURATION_KEY_ARN),
        )
        watched = [experiment.stop_alarm, *experiment.raised_alarms]
        run = grant_smoke_test_role(
            self,
            "ExperimentRun",
            stage=stage,
            statements=[
                iam.PolicyStatement(
                    sid="StartTheExperiment",
                    actions=["fis:StartExperiment"],
                    resources=[experiment.template_arn, experiment.experiments_arn()],
                ),
                iam.PolicyStatement(
                    sid="ReadTheExperiment", actions=["fis:GetExperiment"], resources=[experiment.experiments_arn()]
                ),
                iam.PolicyStatement(
                    sid="ReadTheTemplate", actions=["fis:GetExperimentTemplate"], resources=[experiment.template_arn]
                ),
                iam.PolicyStatement(
                    sid="WatchTheExperimentsAlarms",
                    actions=["cloudwatch:DescribeAlarms", "cloudwatch:DescribeAlarmHistory"],
                    resources=[alarm.alarm_arn for alarm in watched],
                ),
            ],
        )
        acknowledge_experiment_findings(experiment, run=run)
        self.output(contract.Output.EXPERIMENT_TEMPLATE_ID, experiment.template.attr_id, "FIS experiment template")
        self.output(
            contract.Output.EXPERIMENT_STOP_ALARM_NAME,
            experiment.stop_alarm.alarm_name,
            "Stops the experiment: any data-path alarm its faults do not raise on purpose",
        )
        self.output(
            contract.Output.EXPERIMENT_RAISED_ALARM_NAMES,
            ",".join(alarm.alarm_name for alarm in experiment.raised_alarms),
            "The alarms the experiment's faults raise on purpose, comma-separated",
        )
