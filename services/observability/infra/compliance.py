"""Every cdk-nag acknowledgement of the observability service, each on the narrowest construct, with why it is safe."""

from __future__ import annotations

from aws_cdk import Stack
from constructs import IConstruct

from services.observability.infra.drift_check import DriftCheck
from services.observability.infra.fault_injection import FaultInjectionExperiment
from shared.fault_injection import CONFIGURATION_PREFIX
from shared.infra.compliance import INLINE_POLICY_REASON, acknowledge


def acknowledge_findings(*, drift_check: DriftCheck, stacks: tuple[str, ...]) -> None:
    role, function = drift_check.role, drift_check.function
    stack = Stack.of(drift_check)
    acknowledge(role, "NIST.800.53.R5-IAMNoInlinePolicy", INLINE_POLICY_REASON)
    for name in stacks:
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::arn:aws:cloudformation:{stack.region}:{stack.account}:stack/{name}/*]",
            f"Only the stack {name}: a stack's ARN ends with the id CloudFormation gives it, the name is fixed.",
        )
    acknowledge(
        role,
        "AwsSolutions-IAM5[Resource::*]",
        "DescribeStackDriftDetectionStatus has no resource-level permission, and drift detection reads every "
        "resource of the stage's stacks with this role: the read actions are listed one by one, read configuration "
        "only (none reads data: secrets are never read, kms:Decrypt and Lake Formation data access are not granted), "
        "in an account that holds this stage alone; the physical names CloudFormation generates are not all "
        "predictable (key ids, secret suffixes), so a narrower resource list would fail detection (ADR 0014).",
    )
    acknowledge(
        role,
        "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
        "CDK's grant for publishing to the ops topic, whose key is the only one this role can use.",
    )
    on_failure = (
        "EventBridge invokes the check asynchronously; an invocation that still fails after Lambda's retry goes, with "
        "its error message, to the ops topic through the function's on-failure destination, which tells more than a "
        "dead-letter queue (the schedule's event alone) would."
    )
    for rule in ("Serverless-LambdaDLQ", "NIST.800.53.R5-LambdaDLQ"):
        acknowledge(function, rule, on_failure)
    acknowledge(
        function,
        "NIST.800.53.R5-LambdaInsideVPC",
        "The function calls only the CloudFormation and SNS APIs over TLS with IAM auth and reaches no private "
        "resource; a VPC would add NAT or endpoints to run, not a control on this traffic.",
    )
    acknowledge(
        drift_check.schedule,
        "Serverless-EventBusDLQ",
        "A schedule event EventBridge cannot deliver is that day's check not run; the next schedule runs it again, "
        "and a queue of undelivered schedule events would hold nothing anyone needs to replay.",
    )


def acknowledge_experiment_findings(experiment: FaultInjectionExperiment, *, run: IConstruct) -> None:
    """The experiment's role, its stop alarm, and ``run``: the smoke-test role's policy that starts and watches it."""
    role, stack = experiment.role, Stack.of(experiment)
    bucket = stack.resolve(experiment.configuration_bucket_name)["Ref"]  # the SSM parameter that names it
    acknowledge(role, "NIST.800.53.R5-IAMNoInlinePolicy", INLINE_POLICY_REASON)
    acknowledge(
        role,
        "AwsSolutions-IAM5[Resource::*]",
        "Only tag:GetResources, which FIS needs to resolve a Lambda target; it has no resource-level permissions.",
    )
    acknowledge(
        role,
        f"AwsSolutions-IAM5[Resource::arn:aws:s3:::<{bucket}>/{CONFIGURATION_PREFIX}*]",
        f"FIS names the fault documents it writes under {CONFIGURATION_PREFIX} per experiment; only that prefix.",
    )
    acknowledge(
        run,
        f"AwsSolutions-IAM5[Resource::{experiment.experiments_arn()}]",
        "FIS names each experiment when it starts; the pipeline's step may start this template's and read them.",
    )
    acknowledge(
        experiment.stop_alarm,
        "NIST.800.53.R5-CloudWatchAlarmAction",
        "FIS watches this alarm as the experiment's stop condition; each alarm under it notifies the ops topic itself.",
    )
