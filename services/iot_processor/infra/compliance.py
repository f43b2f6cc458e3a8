"""Every cdk-nag acknowledgement of the ingest service, each on the narrowest construct, with why it is safe."""

from __future__ import annotations

from services.iot_processor.contract import PROCESSED_PREFIX, QUARANTINE_PREFIX
from services.iot_processor.infra.alerts import AnomalyAlerts
from services.iot_processor.infra.deployment import ProgressiveDeployment
from services.iot_processor.infra.fault_injection import FaultInjectionExtension
from services.iot_processor.infra.mqtt import MqttFrontDoor
from services.iot_processor.infra.processor import ProcessorFunction
from services.iot_processor.infra.smoke_test_access import SmokeTestAccess
from services.iot_processor.infra.storage import ReadingsStorage
from services.iot_processor.infra.stream import ReadingsStream
from shared.fault_injection import CONFIGURATION_PREFIX
from shared.infra.compliance import INLINE_POLICY_REASON, acknowledge, logical_id
from shared.infra.naming import MQTT_ERROR_PREFIX


def acknowledge_findings(
    *,
    readings: ReadingsStream,
    storage: ReadingsStorage,
    alerts: AnomalyAlerts,
    processor: ProcessorFunction,
    smoke: SmokeTestAccess,
    deployment: ProgressiveDeployment,
) -> None:
    acknowledge(
        readings.stream,
        "AwsSolutions-KDS3",
        "A customer-managed key is stricter than aws/kinesis: its key policy is ours and names who may decrypt, "
        "while aws/kinesis lets any principal of the account with Kinesis access read the stream; it rotates yearly.",
    )
    acknowledge(
        processor.function,
        "Serverless-LambdaDLQ",
        "Only the Kinesis event source mapping invokes this function, synchronously; its failed batches go to the "
        "mapping's S3 on-failure destination. A function DLQ catches async invocations, which never happen here.",
    )
    role = processor.role
    acknowledge(
        role,
        "AwsSolutions-IAM5[Resource::*]",
        "Only xray:PutTraceSegments and xray:PutTelemetryRecords, which support no resource-level permissions.",
    )
    acknowledge(
        role,
        f"AwsSolutions-IAM5[Resource::<{logical_id(storage.table)}.Arn>/index/*]",
        "CDK's grant_write_data adds the table's indexes; the function only calls BatchWriteItem on the table.",
    )
    for prefix in (PROCESSED_PREFIX, QUARANTINE_PREFIX):
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::<{logical_id(storage.processed_bucket)}.Arn>/{prefix}*]",
            f"Writes objects under {prefix} only; keys are derived from shard and sequence numbers at run time.",
        )
    acknowledge(
        role,
        "AwsSolutions-IAM5[Action::s3:Abort*]",
        "s3:AbortMultipartUpload comes with CDK's grant_put on the two prefixes above; it cannot delete objects.",
    )
    acknowledge(
        role,
        f"AwsSolutions-IAM5[Resource::<{logical_id(storage.failure_bucket)}.Arn>/*]",
        "Lambda's on-failure delivery names the objects itself; the grant is s3:PutObject on this bucket only.",
    )
    for scope in (role, smoke.role):
        for action in ("kms:GenerateDataKey*", "kms:ReEncrypt*"):
            acknowledge(
                scope,
                f"AwsSolutions-IAM5[Action::{action}]",
                "CDK's grant for encrypting with this stage's own stream and data keys; no other key is reachable.",
            )
    acknowledge(
        smoke.role,
        f"AwsSolutions-IAM5[Resource::<{logical_id(storage.processed_bucket)}.Arn>/{QUARANTINE_PREFIX}*]",
        "The smoke test reads the quarantine objects its invalid records produced; keys carry sequence numbers.",
    )
    acknowledge(
        smoke.role,
        f"AwsSolutions-IAM5[Resource::<{logical_id(storage.failure_bucket)}.Arn>/*]",
        "The smoke test reads failed batches to report any of its readings that landed there; read-only.",
    )
    acknowledge(
        alerts.webhook_secret,
        "AwsSolutions-SMG4",
        "The webhook token is issued by the receiving system and rotated there; no rotation Lambda can mint it.",
    )
    acknowledge(
        alerts.webhook_secret,
        "NIST.800.53.R5-SecretsManagerRotationEnabled",
        "The webhook token is issued by the receiving system and rotated there; no rotation Lambda can mint it.",
    )
    acknowledge(
        processor.function,
        "NIST.800.53.R5-LambdaDLQ",
        "Only the Kinesis event source mapping invokes this function; its failed batches go to the mapping's S3 "
        "on-failure destination. A function DLQ catches async invocations, which never happen here.",
    )
    acknowledge(
        processor.function,
        "NIST.800.53.R5-LambdaInsideVPC",
        "The function reaches only AWS service endpoints (Kinesis, DynamoDB, S3, SNS, Secrets Manager) over TLS with "
        "IAM auth and no private resource; a VPC would add NAT or endpoints to run, not a control on this traffic.",
    )
    for scope in (role, smoke.role):
        acknowledge(scope, "NIST.800.53.R5-IAMNoInlinePolicy", INLINE_POLICY_REASON)
    _acknowledge_delivery_findings(smoke=smoke, deployment=deployment)


def _acknowledge_delivery_findings(*, smoke: SmokeTestAccess, deployment: ProgressiveDeployment) -> None:
    inbox_reason = (
        "Only the smoke test reads this queue, and only its own synthetic alerts; a message that is not read is "
        "worthless after the run, so it expires instead of being redriven anywhere."
    )
    for rule in ("AwsSolutions-SQS3", "Serverless-SQSRedrivePolicy", "Serverless-SNSRedrivePolicy"):
        acknowledge(smoke, rule, inbox_reason)
    acknowledge(
        deployment,
        "NIST.800.53.R5-CloudWatchAlarmAction",
        "CodeDeploy acts on these alarms (it rolls the alias back); the ops alarms on the same symptoms page people.",
    )
    acknowledge(
        deployment.group,
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSCodeDeployRoleForLambdaLimited]",
        "AWS's policy for CodeDeploy on Lambda, limited to shifting aliases and invoking hooks named CodeDeployHook_*.",
    )


def acknowledge_mqtt_findings(*, mqtt: MqttFrontDoor, storage: ReadingsStorage, smoke: SmokeTestAccess) -> None:
    acknowledge(
        mqtt.role,
        f"AwsSolutions-IAM5[Resource::<{logical_id(storage.failure_bucket)}.Arn>/{MQTT_ERROR_PREFIX}*]",
        f"The rule's error action writes objects under {MQTT_ERROR_PREFIX} only; IoT Core names each at run time.",
    )
    acknowledge(mqtt.role, "NIST.800.53.R5-IAMNoInlinePolicy", INLINE_POLICY_REASON)
    acknowledge(
        smoke.role,
        "AwsSolutions-IAM5[Resource::*]",
        "Only iot:DescribeEndpoint, which supports no resource-level permissions; it returns the account's endpoint.",
    )


def acknowledge_fault_injection_findings(
    *, processor: ProcessorFunction, fault_injection: FaultInjectionExtension
) -> None:
    acknowledge(
        processor.role,
        f"AwsSolutions-IAM5[Resource::<{logical_id(fault_injection.bucket)}.Arn>/{CONFIGURATION_PREFIX}*]",
        f"The FIS extension reads the faults FIS writes under {CONFIGURATION_PREFIX}; FIS names them per experiment.",
    )
