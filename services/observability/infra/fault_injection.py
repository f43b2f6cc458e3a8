"""The stage's fault injection experiment (AWS FIS): the processor's faults as the stage's config defines them
(shared/fault_injection.py), and the alarm that stops it.

The experiment fails a share of the processor's invocations on purpose, so the processor-errors alarm goes to ALARM
while it runs: that is what it tests (the pipeline's step checks that alarm went to ALARM and came back). The stage's
composite alarm would therefore stop every experiment at once. The stop condition is a composite beside it, over
every data-path alarm the faults are not meant to raise: the experiment stops when it harms what it should not
(readings failing, the stream backing up, throttles, the archive falling behind). ADR 0016 has the reasoning.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_fis as fis
from aws_cdk import aws_iam as iam
from constructs import Construct

from services.observability.infra.alarms import RUNBOOK, DataPathAlarms
from services.observability.infra.naming import stage_resource_name
from shared.fault_injection import (
    CONFIGURATION_PREFIX,
    FUNCTIONS_TARGET,
    INVOCATION_ADD_DELAY,
    INVOCATION_ERROR,
    LAMBDA_TARGET_TYPE,
    FaultInjectionConfig,
    experiment_actions,
)

STOP_SYMPTOM = "experiment-stop"
# The alarms each FIS action raises by design. Added latency of up to a minute on a share of the invocations keeps
# the iterator age far under its threshold (minutes), so it raises none.
RAISED_BY_ACTION = {INVOCATION_ERROR: ("processor-errors",), INVOCATION_ADD_DELAY: ()}
FIS_PRINCIPAL = "fis.amazonaws.com"


class FaultInjectionExperiment(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        config: FaultInjectionConfig,
        alarms: DataPathAlarms,
        function_name: str,
        configuration_bucket_name: str,
        configuration_key_arn: str,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.configuration_bucket_name = configuration_bucket_name
        actions = experiment_actions(config)
        raised = sorted({symptom for action in actions.values() for symptom in RAISED_BY_ACTION[action.action_id]})
        self.raised_alarms = [alarms.alarms[symptom] for symptom in raised]
        self.stop_alarm = cw.CompositeAlarm(
            self,
            "StopCondition",
            composite_alarm_name=stage_resource_name(stage, STOP_SYMPTOM),
            alarm_description=(
                f"The {stage} fault injection experiment stops when this is in ALARM: any data-path alarm but "
                f"{', '.join(raised)}, which its faults raise on purpose. Runbook: {RUNBOOK}#{STOP_SYMPTOM}"
            ),
            alarm_rule=cw.AlarmRule.any_of(*(a for symptom, a in alarms.alarms.items() if symptom not in raised)),
        )
        self.function_arn = stack.format_arn(
            service="lambda", resource="function", resource_name=function_name, arn_format=ArnFormat.COLON_RESOURCE_NAME
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal(
                FIS_PRINCIPAL, conditions={"StringEquals": {"aws:SourceAccount": stack.account}}
            ),
            description=f"AWS FIS sets the {stage} processor's faults with this role, and nothing else",
        )
        for statement in (
            iam.PolicyStatement(
                sid="SetTheFaults",
                actions=["s3:PutObject", "s3:DeleteObject"],
                resources=[f"arn:{stack.partition}:s3:::{configuration_bucket_name}/{CONFIGURATION_PREFIX}*"],
            ),
            iam.PolicyStatement(
                sid="EncryptTheFaults", actions=["kms:GenerateDataKey"], resources=[configuration_key_arn]
            ),
            iam.PolicyStatement(sid="ReadTheTarget", actions=["lambda:GetFunction"], resources=[self.function_arn]),
            # FIS resolves a Lambda target through the tagging API, which has no resource-level permissions.
            iam.PolicyStatement(sid="ResolveTheTarget", actions=["tag:GetResources"], resources=["*"]),
        ):
            self.role.add_to_policy(statement)
        self.template = fis.CfnExperimentTemplate(
            self,
            "Template",
            description=(
                f"{stage}: {config.invocation_error_percent}% of the processor's invocations fail and "
                f"{config.added_latency_percent}% start {config.added_latency_milliseconds} ms late, for "
                f"{config.duration_minutes} min"
            ),
            role_arn=self.role.role_arn,
            targets={
                FUNCTIONS_TARGET: fis.CfnExperimentTemplate.ExperimentTemplateTargetProperty(
                    resource_type=LAMBDA_TARGET_TYPE, resource_arns=[self.function_arn], selection_mode="ALL"
                )
            },
            actions={
                name: fis.CfnExperimentTemplate.ExperimentTemplateActionProperty(
                    action_id=action.action_id,
                    parameters=dict(action.parameters),
                    targets={FUNCTIONS_TARGET: FUNCTIONS_TARGET},
                )
                for name, action in actions.items()
            },
            stop_conditions=[
                fis.CfnExperimentTemplate.ExperimentTemplateStopConditionProperty(
                    source="aws:cloudwatch:alarm", value=self.stop_alarm.alarm_arn
                )
            ],
            experiment_options=fis.CfnExperimentTemplate.ExperimentTemplateExperimentOptionsProperty(
                account_targeting="single-account", empty_target_resolution_mode="fail"
            ),
            tags={"Name": stage_resource_name(stage, "processor-faults")},
        )

    @property
    def template_arn(self) -> str:
        return Stack.of(self).format_arn(
            service="fis", resource="experiment-template", resource_name=self.template.attr_id
        )

    def experiments_arn(self) -> str:
        """Every experiment of the account and region: FIS names each one when it starts."""
        return Stack.of(self).format_arn(service="fis", resource="experiment", resource_name="*")
