"""The processor Lambda and its Kinesis event source mapping."""

from __future__ import annotations

import hashlib
import re

import jsii
from aws_cdk import AssetHashType, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from services.iot_processor.config import IngestConfig
from services.iot_processor.contract import (
    ALIAS_NAME,
    METRICS_NAMESPACE,
    METRICS_SERVICE,
    PROCESSED_PREFIX,
    QUARANTINE_PREFIX,
)
from services.iot_processor.infra.alerts import AnomalyAlerts
from services.iot_processor.infra.packaging import HANDLER, build_bundle, bundle_hash
from services.iot_processor.infra.storage import ReadingsStorage
from services.iot_processor.infra.stream import ReadingsStream
from services.iot_processor.runtime.settings import encode_bounds
from shared.infra.encryption import encrypted_log_group

LOG_RETENTION = logs.RetentionDays.THREE_MONTHS
# Lambda stops a batch at this point; 1,000 readings take well under a second, the rest absorbs retries.
TIMEOUT = Duration.seconds(120)
_MAX_READABLE_ID = 247  # CloudFormation logical ids stop at 255 characters, 8 of them the hash


class ProcessorFunction(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: IngestConfig,
        readings: ReadingsStream,
        storage: ReadingsStorage,
        alerts: AnomalyAlerts,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        log_group = encrypted_log_group(
            self, "Logs", key=storage.key, retention=LOG_RETENTION, removal_policy=removal_policy
        )
        # Our own role: the default one carries AWSLambdaBasicExecutionRole, which can write to any log group.
        self.role = iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        log_group.grant_write(self.role)
        self.function = lambda_.Function(
            self,
            "Function",
            description="Validates sensor readings, flags anomalies, stores them; quarantines invalid input",
            role=self.role,
            runtime=lambda_.Runtime.PYTHON_3_14,
            architecture=lambda_.Architecture.ARM_64,
            handler=HANDLER,
            code=lambda_.Code.from_asset(
                str(build_bundle()), asset_hash_type=AssetHashType.CUSTOM, asset_hash=bundle_hash()
            ),
            memory_size=config.processor_memory_mb,
            timeout=TIMEOUT,
            reserved_concurrent_executions=config.reserved_concurrency,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            application_log_level_v2=lambda_.ApplicationLogLevel.INFO,
            system_log_level_v2=lambda_.SystemLogLevel.WARN,
            environment={
                "TABLE_NAME": storage.table.table_name,
                "PROCESSED_BUCKET": storage.processed_bucket.bucket_name,
                "ALERT_TOPIC_ARN": alerts.topic.topic_arn,
                "WEBHOOK_SECRET_ARN": alerts.webhook_secret.secret_arn,
                "ANOMALY_BOUNDS": encode_bounds(config.anomaly_bounds),
                "TTL_DAYS": str(config.table_ttl_days),
                "ANOMALY_TTL_DAYS": str(config.anomaly_ttl_days),
                "ANOMALY_INDEX_SHARDS": str(config.anomaly_index_shards),
                "POWERTOOLS_SERVICE_NAME": METRICS_SERVICE,
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            },
        )
        # The stream is read through the alias: CodeDeploy moves it from version to version (deployment.py).
        self.alias = lambda_.Alias(self, "Live", alias_name=ALIAS_NAME, version=self.function.current_version)
        self.event_source = sources.KinesisEventSource(
            readings.stream,
            starting_position=lambda_.StartingPosition.TRIM_HORIZON,  # nothing put before the first deploy is lost
            batch_size=config.batch_size,
            max_batching_window=Duration.seconds(config.max_batching_window_seconds),
            parallelization_factor=config.parallelization_factor,
            report_batch_item_failures=True,
            bisect_batch_on_error=True,
            retry_attempts=config.retry_attempts,
            max_record_age=Duration.seconds(config.max_record_age_seconds),
            on_failure=S3FailureDestination(storage.failure_bucket),
            # Lambda's own count of the events it polled, invoked, sent to the failure bucket and dropped.
            metrics_config=lambda_.MetricsConfig(metrics=[lambda_.MetricType.EVENT_COUNT]),
        )
        self.alias.add_event_source(self.event_source)
        _keep_mapping_logical_id(self.alias, was_under=self.function)
        storage.table.grant_write_data(self.function)
        for prefix in (PROCESSED_PREFIX, QUARANTINE_PREFIX):
            storage.processed_bucket.grant_put(self.function, f"{prefix}*")
        alerts.topic.grant_publish(self.function)
        alerts.webhook_secret.grant_read(self.function)


def _keep_mapping_logical_id(alias: lambda_.Alias, *, was_under: lambda_.Function) -> None:
    """Keep the logical id the mapping had when it hung off the function itself.

    A new logical id would make CloudFormation create a second mapping, which starts again at TRIM_HORIZON
    and reprocesses the whole retention, and then delete the old one. With the old id, pointing the mapping
    at the alias is an in-place update (FunctionName) that keeps the mapping's position in every shard.
    CDK derives logical ids from the construct path (readable part plus the first 8 hex digits of the MD5 of
    the path), so the id is recomputed with the function's construct id in place of the alias's.
    """
    (mapping,) = [child for child in alias.node.children if isinstance(child, lambda_.EventSourceMapping)]
    resource = mapping.node.default_child
    assert isinstance(resource, lambda_.CfnEventSourceMapping)
    stack = Stack.of(alias)
    path = [scope.node.id for scope in resource.node.scopes[len(stack.node.scopes) :]]
    path = [was_under.node.id if part == alias.node.id else part for part in path]
    digest = hashlib.md5("/".join(path).encode(), usedforsecurity=False).hexdigest()[:8].upper()
    readable = "".join(re.sub("[^A-Za-z0-9]", "", part) for part in path if part != "Resource")
    resource.override_logical_id(readable[:_MAX_READABLE_ID] + digest)


@jsii.implements(lambda_.IEventSourceDlq)
class S3FailureDestination:
    """On-failure destination in S3 (it keeps each failed batch's payload, SQS and SNS keep only metadata).

    CDK's S3OnFailureDestination grants read, write and delete; Lambda needs only these two actions.
    """

    def __init__(self, bucket: s3.IBucket) -> None:
        self._bucket = bucket

    def bind(
        self,
        target: lambda_.IEventSourceMapping,  # noqa: ARG002 - part of the IEventSourceDlq interface
        target_handler: lambda_.IFunction,
    ) -> lambda_.DlqDestinationConfig:
        target_handler.add_to_role_policy(
            iam.PolicyStatement(actions=["s3:PutObject"], resources=[self._bucket.arn_for_objects("*")])
        )
        target_handler.add_to_role_policy(
            iam.PolicyStatement(actions=["s3:ListBucket"], resources=[self._bucket.bucket_arn])
        )
        if self._bucket.encryption_key is not None:
            self._bucket.encryption_key.grant(target_handler, "kms:GenerateDataKey")
        return lambda_.DlqDestinationConfig(destination=self._bucket.bucket_arn)
