"""The CloudWatch metrics of one stage's data path, shared by the dashboard and the alarms.

Resources are named by the deploy-time tokens of the SSM parameters the ingest and archive stacks publish
(no cross-stack exports: docs/decisions/0002), so this stack watches exactly the resources of its own stage.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw

from services.iot_archive import contract as archive
from services.iot_processor import contract as ingest
from services.iot_processor.contract import METRICS_NAMESPACE, Metric, per_service_dimensions
from shared.infra.service import ServiceStack

# S3 publishes storage metrics once a day; a shorter period shows no data at all.
STORAGE_PERIOD = Duration.days(1)


@dataclass(frozen=True, kw_only=True)
class WatchedResources:
    """Physical names of the stage's resources, as tokens CloudFormation resolves from SSM at deploy time."""

    stream_name: str
    function_name: str
    table_name: str
    processed_bucket_name: str
    failure_bucket_name: str
    delivery_stream_name: str
    raw_bucket_name: str
    event_source_mapping_id: str

    @classmethod
    def read(cls, stack: ServiceStack) -> WatchedResources:
        """The names the ingest and archive stacks of ``stack``'s stage share, read by their contracts' keys."""
        return cls(
            stream_name=stack.read_shared(ingest.SERVICE, ingest.SharedKey.STREAM_NAME),
            function_name=stack.read_shared(ingest.SERVICE, ingest.SharedKey.FUNCTION_NAME),
            table_name=stack.read_shared(ingest.SERVICE, ingest.SharedKey.TABLE_NAME),
            processed_bucket_name=stack.read_shared(ingest.SERVICE, ingest.SharedKey.PROCESSED_BUCKET_NAME),
            failure_bucket_name=stack.read_shared(ingest.SERVICE, ingest.SharedKey.FAILURE_BUCKET_NAME),
            delivery_stream_name=stack.read_shared(archive.SERVICE, archive.SharedKey.DELIVERY_STREAM_NAME),
            raw_bucket_name=stack.read_shared(archive.SERVICE, archive.SharedKey.RAW_BUCKET_NAME),
            event_source_mapping_id=stack.read_shared(ingest.SERVICE, ingest.SharedKey.EVENT_SOURCE_MAPPING_ID),
        )


class DataPathMetrics:
    """One method per source of metrics; callers pick the statistic and, with ``Metric.with_``, the period."""

    def __init__(self, resources: WatchedResources) -> None:
        self.resources = resources

    def stream(self, metric_name: str, statistic: str = cw.Stats.SUM) -> cw.Metric:
        return _metric("AWS/Kinesis", metric_name, statistic, StreamName=self.resources.stream_name)

    def function(self, metric_name: str, statistic: str = cw.Stats.SUM) -> cw.Metric:
        return _metric("AWS/Lambda", metric_name, statistic, FunctionName=self.resources.function_name)

    def mapping(self, metric_name: str, statistic: str = cw.Stats.SUM) -> cw.Metric:
        """The event source mapping's own counts (its MetricsConfig: EventCount), per mapping."""
        return _metric(
            "AWS/Lambda", metric_name, statistic, EventSourceMappingUUID=self.resources.event_source_mapping_id
        )

    def processor(self, metric: Metric, statistic: str = cw.Stats.SUM) -> cw.Metric:
        """One of the processor's EMF metrics, under the dimensions its contract declares. They carry only the
        ``service`` dimension, so they are per account (one stage per account), not per function: a second stage in
        the same account would share them."""
        return _metric(METRICS_NAMESPACE, metric, statistic, **per_service_dimensions(metric))

    def table(self, metric_name: str, statistic: str = cw.Stats.SUM, **dimensions: str) -> cw.Metric:
        return _metric("AWS/DynamoDB", metric_name, statistic, TableName=self.resources.table_name, **dimensions)

    def delivery(self, metric_name: str, statistic: str) -> cw.Metric:
        return _metric("AWS/Firehose", metric_name, statistic, DeliveryStreamName=self.resources.delivery_stream_name)

    def quarantine_share(self) -> cw.MathExpression:
        """Quarantined readings as a fraction of received ones; 0 when nothing arrived (no division by zero)."""
        return cw.MathExpression(
            expression="IF(received > 0, quarantined / received, 0)",
            using_metrics={
                "quarantined": self.processor(Metric.READINGS_QUARANTINED),
                "received": self.processor(Metric.READINGS_RECEIVED),
            },
            label="Quarantined / received",
        )

    def write_throttles(self) -> cw.MathExpression:
        """Throttled writes of the table and of its anomaly index together, 0 in a period without any: a throttled
        index write throttles the table's write, and DynamoDB counts it on the index. An alarm on a metric of
        AWS/DynamoDB ignores missing data whatever it asks for (PutMetricAlarm's reference), and DynamoDB publishes
        throttles only when there are some: unfilled, an alarm would stay in ALARM after the last throttled write."""
        return cw.MathExpression(
            expression="FILL(table, 0) + FILL(index, 0)",
            using_metrics={
                "table": self.table("WriteThrottleEvents"),
                "index": self.table("WriteThrottleEvents", GlobalSecondaryIndexName=ingest.ANOMALY_INDEX),
            },
            label="Write throttle events (table and index)",
        )

    def table_system_errors(self, period: Duration) -> cw.MathExpression:
        """SystemErrors of every operation on the table: the metric exists only per operation, so search for them."""
        seconds = int(period.to_seconds())
        return cw.MathExpression(
            expression=(
                'SEARCH(\'{AWS/DynamoDB,TableName,Operation} MetricName="SystemErrors" '
                f"TableName=\"{self.resources.table_name}\"', 'Sum', {seconds})"
            ),
            using_metrics={},
            label="SystemErrors",
            period=period,
        )

    @staticmethod
    def bucket_storage(bucket_name: str) -> tuple[cw.Metric, cw.Metric]:
        """Daily size (standard storage class) and object count of a bucket."""
        size = _metric(
            "AWS/S3", "BucketSizeBytes", cw.Stats.AVERAGE, BucketName=bucket_name, StorageType="StandardStorage"
        )
        count = _metric(
            "AWS/S3", "NumberOfObjects", cw.Stats.AVERAGE, BucketName=bucket_name, StorageType="AllStorageTypes"
        )
        return (
            size.with_(period=STORAGE_PERIOD, label="Bytes (standard storage)"),
            count.with_(period=STORAGE_PERIOD, label="Objects"),
        )


def _metric(namespace: str, metric_name: str, statistic: str, **dimensions: str) -> cw.Metric:
    return cw.Metric(namespace=namespace, metric_name=metric_name, statistic=statistic, dimensions_map=dimensions)
