"""Kinesis Data Firehose from the readings stream to the raw archive: one reading per line, GZIP,
partitioned by the reading's own event time (not arrival time), failures under an error prefix."""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from services.iot_archive.config import ArchiveConfig
from services.iot_archive.contract import (
    ERROR_OUTPUT_PREFIX,
    ERROR_PREFIX,
    PARTITION_QUERY,
    PARTITIONED_PREFIX,
    READINGS_PREFIX,
)
from shared.infra.encryption import encrypted_log_group


class ArchiveDelivery(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: ArchiveConfig,
        stream_arn: str,
        stream_key_arn: str,
        bucket: s3.IBucket,
        bucket_key: kms.IKey,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = encrypted_log_group(
            self,
            "DeliveryLogs",
            key=bucket_key,
            retention=logs.RetentionDays.THREE_MONTHS,
            removal_policy=removal_policy,
        )
        log_stream = logs.LogStream(self, "S3Delivery", log_group=self.log_group, removal_policy=removal_policy)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal(
                "firehose.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}}
            ),
            description="Firehose: read the readings stream, write the raw archive",
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadReadingsStream",
                actions=[
                    "kinesis:DescribeStream",
                    "kinesis:DescribeStreamSummary",
                    "kinesis:GetShardIterator",
                    "kinesis:GetRecords",
                    "kinesis:ListShards",
                ],
                resources=[stream_arn],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(sid="DecryptReadingsStream", actions=["kms:Decrypt"], resources=[stream_key_arn])
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteArchive",
                actions=[
                    "s3:PutObject",
                    "s3:AbortMultipartUpload",
                    "s3:GetBucketLocation",
                    "s3:ListBucket",
                    "s3:ListBucketMultipartUploads",
                ],
                resources=[
                    bucket.bucket_arn,
                    bucket.arn_for_objects(f"{READINGS_PREFIX}*"),
                    bucket.arn_for_objects(f"{ERROR_PREFIX}*"),
                ],
            )
        )
        bucket_key.grant(self.role, "kms:GenerateDataKey", "kms:Decrypt")
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteDeliveryLog",
                actions=["logs:PutLogEvents"],
                resources=[_log_stream_arn(self.log_group, log_stream)],
            )
        )
        self.delivery_stream = firehose.CfnDeliveryStream(
            self,
            "DeliveryStream",
            delivery_stream_type="KinesisStreamAsSource",
            kinesis_stream_source_configuration=firehose.CfnDeliveryStream.KinesisStreamSourceConfigurationProperty(
                kinesis_stream_arn=stream_arn, role_arn=self.role.role_arn
            ),
            extended_s3_destination_configuration=firehose.CfnDeliveryStream.ExtendedS3DestinationConfigurationProperty(
                bucket_arn=bucket.bucket_arn,
                role_arn=self.role.role_arn,
                prefix=PARTITIONED_PREFIX,
                error_output_prefix=ERROR_OUTPUT_PREFIX,
                compression_format="GZIP",
                buffering_hints=firehose.CfnDeliveryStream.BufferingHintsProperty(
                    interval_in_seconds=config.buffer_interval_seconds, size_in_m_bs=config.buffer_size_mib
                ),
                dynamic_partitioning_configuration=firehose.CfnDeliveryStream.DynamicPartitioningConfigurationProperty(
                    enabled=True, retry_options=firehose.CfnDeliveryStream.RetryOptionsProperty(duration_in_seconds=300)
                ),
                processing_configuration=firehose.CfnDeliveryStream.ProcessingConfigurationProperty(
                    enabled=True,
                    processors=[
                        _processor(
                            "MetadataExtraction", MetadataExtractionQuery=PARTITION_QUERY, JsonParsingEngine="JQ-1.6"
                        ),
                        _processor("AppendDelimiterToRecord", Delimiter="\\n"),
                    ],
                ),
                cloud_watch_logging_options=firehose.CfnDeliveryStream.CloudWatchLoggingOptionsProperty(
                    enabled=True,
                    log_group_name=self.log_group.log_group_name,
                    log_stream_name=log_stream.log_stream_name,
                ),
            ),
        )
        # Firehose checks its role's permissions when the stream is created.
        self.delivery_stream.node.add_dependency(self.role)
        self.buffer_interval = Duration.seconds(config.buffer_interval_seconds)


def _processor(kind: str, **parameters: str) -> firehose.CfnDeliveryStream.ProcessorProperty:
    return firehose.CfnDeliveryStream.ProcessorProperty(
        type=kind,
        parameters=[
            firehose.CfnDeliveryStream.ProcessorParameterProperty(parameter_name=name, parameter_value=value)
            for name, value in parameters.items()
        ],
    )


def _log_stream_arn(log_group: logs.LogGroup, log_stream: logs.LogStream) -> str:
    stack = Stack.of(log_group)
    return stack.format_arn(
        service="logs",
        resource="log-group",
        resource_name=f"{log_group.log_group_name}:log-stream:{log_stream.log_stream_name}",
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )
