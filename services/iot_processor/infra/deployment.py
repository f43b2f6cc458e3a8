"""Progressive deploys of the processor: CodeDeploy shifts the ``live`` alias to a new version and rolls back on alarm.

The event source mapping invokes the alias, never the function itself, so the version behind the alias is what
processes the stream. The three alarms below watch what a bad version breaks first: whole invocations failing,
readings failing inside a batch, and the stream falling behind. They live in this stack, not in observability,
because CodeDeploy needs them to exist before the first deployment of the alias (the ops alarms on the same
symptoms, which page people, are created after this stack). docs/decisions/0007 says what AWS documents about
weighted aliases under a stream mapping, and what this can and cannot catch.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_codedeploy as codedeploy
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from services.iot_processor.config import RollbackThresholds, TrafficShift
from services.iot_processor.contract import METRICS_NAMESPACE, Metric, per_service_dimensions
from shared.infra.naming import PLATFORM

_RUNBOOK = "Runbook: docs/runbooks.md#deploy-rolled-back"

_TRAFFIC_SHIFTS: dict[TrafficShift, codedeploy.ILambdaDeploymentConfig] = {
    "AllAtOnce": codedeploy.LambdaDeploymentConfig.ALL_AT_ONCE,
    "Canary10Percent5Minutes": codedeploy.LambdaDeploymentConfig.CANARY_10_PERCENT_5_MINUTES,
    "Canary10Percent10Minutes": codedeploy.LambdaDeploymentConfig.CANARY_10_PERCENT_10_MINUTES,
    "Canary10Percent15Minutes": codedeploy.LambdaDeploymentConfig.CANARY_10_PERCENT_15_MINUTES,
    "Canary10Percent30Minutes": codedeploy.LambdaDeploymentConfig.CANARY_10_PERCENT_30_MINUTES,
    "Linear10PercentEvery1Minute": codedeploy.LambdaDeploymentConfig.LINEAR_10_PERCENT_EVERY_1_MINUTE,
    "Linear10PercentEvery2Minutes": codedeploy.LambdaDeploymentConfig.LINEAR_10_PERCENT_EVERY_2_MINUTES,
    "Linear10PercentEvery3Minutes": codedeploy.LambdaDeploymentConfig.LINEAR_10_PERCENT_EVERY_3_MINUTES,
    "Linear10PercentEvery10Minutes": codedeploy.LambdaDeploymentConfig.LINEAR_10_PERCENT_EVERY_10_MINUTES,
}


def rollback_alarm_name(stage: str, symptom: str) -> str:
    """``iot-prod-deploy-processor-errors``: an alarm CodeDeploy watches while it shifts the alias."""
    return f"{PLATFORM}-{stage}-deploy-{symptom}"


class ProgressiveDeployment(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        alias: lambda_.Alias,
        traffic_shift: TrafficShift,
        thresholds: RollbackThresholds,
    ) -> None:
        super().__init__(scope, construct_id)
        one_minute = Duration.minutes(1)
        self.alarms = [
            cw.Alarm(
                self,
                "Errors",
                alarm_name=rollback_alarm_name(stage, "processor-errors"),
                alarm_description="Invocations through the live alias failed while CodeDeploy shifted it. " + _RUNBOOK,
                metric=alias.metric_errors(period=one_minute, statistic=cw.Stats.SUM),
                threshold=thresholds.errors,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                evaluation_periods=1,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            ),
            cw.Alarm(
                self,
                Metric.READINGS_FAILED,  # the construct is named after the metric it watches
                alarm_name=rollback_alarm_name(stage, "processor-readings-failed"),
                alarm_description="The processor reported failed readings while CodeDeploy shifted the live alias. "
                + _RUNBOOK,
                # Powertools adds only the service dimension: this counts every version, which is the safe side.
                metric=cw.Metric(
                    namespace=METRICS_NAMESPACE,
                    metric_name=Metric.READINGS_FAILED,
                    dimensions_map=per_service_dimensions(Metric.READINGS_FAILED),
                    statistic=cw.Stats.SUM,
                    period=one_minute,
                ),
                threshold=0,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=1,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            ),
            cw.Alarm(
                self,
                "IteratorAge",
                alarm_name=rollback_alarm_name(stage, "processor-iterator-age"),
                alarm_description="The live alias fell behind the stream while CodeDeploy shifted it. " + _RUNBOOK,
                metric=alias.metric("IteratorAge", period=one_minute, statistic=cw.Stats.MAXIMUM),
                threshold=thresholds.iterator_age_seconds * 1000,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=3,
                datapoints_to_alarm=2,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            ),
        ]
        self.group = codedeploy.LambdaDeploymentGroup(
            self,
            "Group",
            alias=alias,
            deployment_config=_TRAFFIC_SHIFTS[traffic_shift],
            alarms=self.alarms,
            auto_rollback=codedeploy.AutoRollbackConfig(
                failed_deployment=True, stopped_deployment=True, deployment_in_alarm=True
            ),
        )
