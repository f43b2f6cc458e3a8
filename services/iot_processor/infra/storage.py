"""Where readings come to rest: the readings table, the processed/quarantine bucket, the failure bucket."""

from __future__ import annotations

import functools
from collections.abc import Callable

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_s3 as s3
from constructs import Construct

from services.iot_processor.config import IngestConfig
from services.iot_processor.contract import (
    ANOMALY_INDEX,
    ANOMALY_PARTITION,
    ANOMALY_SORT,
    PARTITION_KEY,
    PROCESSED_PREFIX,
    QUARANTINE_PREFIX,
    SORT_KEY,
    TTL_ATTRIBUTE,
)
from shared.infra.encryption import rotating_key
from shared.infra.secure_bucket import access_log_bucket, data_bucket

FAILURE_EXPIRATION_DAYS = 365  # failed batches wait for a replay; keep them long enough to notice


class ReadingsStorage(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: IngestConfig,
        removal_policy: RemovalPolicy,
        production: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        self.key = rotating_key(
            self,
            "Key",
            description="Encrypts readings at rest: table, buckets, alert topic",
            removal_policy=removal_policy,
        )
        capacity = config.table_capacity  # None: on demand
        self.table = dynamodb.Table(
            self,
            "Readings",
            partition_key=dynamodb.Attribute(name=PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=SORT_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PROVISIONED if capacity else dynamodb.BillingMode.PAY_PER_REQUEST,
            # A provisioned table starts at its floors; auto scaling moves it from there (ADR 0013).
            write_capacity=capacity.writes.min_units if capacity else None,
            read_capacity=capacity.reads.min_units if capacity else None,
            table_class=TABLE_CLASSES[config.table_class],
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=self.key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=TTL_ATTRIBUTE,
            deletion_protection=production,
            warm_throughput=(
                dynamodb.WarmThroughput(write_units_per_second=config.warm_write_units_per_second)
                if config.warm_write_units_per_second
                else None
            ),
            removal_policy=removal_policy,
        )
        self.table.add_global_secondary_index(
            # An index has its own warm throughput: in the worst case (every reading an anomaly) it takes every write.
            warm_throughput=(
                dynamodb.WarmThroughput(write_units_per_second=config.warm_write_units_per_second)
                if config.warm_write_units_per_second
                else None
            ),
            index_name=ANOMALY_INDEX,
            partition_key=dynamodb.Attribute(name=ANOMALY_PARTITION, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=ANOMALY_SORT, type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.ALL,
            write_capacity=capacity.index_writes.min_units if capacity else None,
            read_capacity=capacity.reads.min_units if capacity else None,
        )
        if capacity:
            for scalable, scaled in (
                (self.table.auto_scale_write_capacity, capacity.writes),
                (self.table.auto_scale_read_capacity, capacity.reads),
                (_index(self.table.auto_scale_global_secondary_index_write_capacity), capacity.index_writes),
                (_index(self.table.auto_scale_global_secondary_index_read_capacity), capacity.reads),
            ):
                scalable(min_capacity=scaled.min_units, max_capacity=scaled.max_units).scale_on_utilization(
                    target_utilization_percent=scaled.target_utilization_percent
                )
        self.access_logs = logs = access_log_bucket(
            self, "AccessLogs", removal_policy=removal_policy, expiration_days=config.processed_expiration_days
        )
        self.processed_bucket = data_bucket(
            self,
            "Processed",
            encryption_key=self.key,
            access_logs=logs,
            removal_policy=removal_policy,
            lifecycle_rules=[
                _expire(PROCESSED_PREFIX, config.processed_expiration_days),
                _expire(QUARANTINE_PREFIX, config.quarantine_expiration_days),
            ],
        )
        self.failure_bucket = data_bucket(
            self,
            "FailedBatches",
            encryption_key=self.key,
            access_logs=logs,
            removal_policy=removal_policy,
            lifecycle_rules=[_expire("", FAILURE_EXPIRATION_DAYS)],
        )


TABLE_CLASSES = {
    "standard": dynamodb.TableClass.STANDARD,
    "standard_infrequent_access": dynamodb.TableClass.STANDARD_INFREQUENT_ACCESS,
}


def _index(
    scale: Callable[..., dynamodb.IScalableTableAttribute],
) -> Callable[..., dynamodb.IScalableTableAttribute]:
    """The anomaly index's auto scaling, called as the table's own is."""
    return functools.partial(scale, ANOMALY_INDEX)


def _expire(prefix: str, days: int) -> s3.LifecycleRule:
    return s3.LifecycleRule(
        id=f"expire-{prefix.strip('/') or 'all'}",
        prefix=prefix or None,
        expiration=Duration.days(days),
        noncurrent_version_expiration=Duration.days(7),
        abort_incomplete_multipart_upload_after=Duration.days(1),
    )
