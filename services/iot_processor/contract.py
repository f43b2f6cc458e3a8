"""What the ingest service promises everyone else: names, keys and prefixes other services, tools and tests rely on.

No CDK and no AWS clients here, so anything may import it (the processor's Lambda asset carries it too). Nothing
outside services/iot_processor imports any other module of the service.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

SERVICE = "ingest"
OWNER_TEAM = "iot-ingest"


class SharedKey(StrEnum):
    """Values the ingest stack publishes for the other stacks of its stage (SSM, see ADR 0002)."""

    STREAM_ARN = "stream-arn"
    STREAM_NAME = "stream-name"
    STREAM_KEY_ARN = "stream-key-arn"
    FUNCTION_NAME = "function-name"
    TABLE_NAME = "table-name"
    PROCESSED_BUCKET_NAME = "processed-bucket-name"
    FAILURE_BUCKET_NAME = "failure-bucket-name"
    EVENT_SOURCE_MAPPING_ID = "event-source-mapping-id"


class Output(StrEnum):
    """The ingest stack's outputs: what people and the pipeline's steps read (the steps as ``INGEST_<OUTPUT>``, in
    capitals). The values shared through SSM are outputs too, under the names beside their keys."""

    STREAM_ARN = "StreamArn"
    STREAM_NAME = "StreamName"
    STREAM_KEY_ARN = "StreamKeyArn"
    FUNCTION_NAME = "FunctionName"
    TABLE_NAME = "TableName"
    PROCESSED_BUCKET_NAME = "ProcessedBucketName"
    FAILURE_BUCKET_NAME = "FailureBucketName"
    EVENT_SOURCE_MAPPING_ID = "EventSourceMappingId"
    ALERT_TOPIC_ARN = "AlertTopicArn"
    WEBHOOK_SECRET_ARN = "WebhookSecretArn"  # noqa: S105 # pragma: allowlist secret - an output's name
    SMOKE_TEST_ROLE_ARN = "SmokeTestRoleArn"
    ALERT_INBOX_URL = "AlertInboxUrl"
    # only where the stage has the MQTT front door
    MQTT_TOPIC_FILTER = "MqttTopicFilter"
    MQTT_SMOKE_TEST_TOPIC = "MqttSmokeTestTopic"
    MQTT_DEVICE_POLICY_NAME = "MqttDevicePolicyName"


# Each shared value is also an output of the stack.
SHARED_OUTPUTS = {
    SharedKey.STREAM_ARN: Output.STREAM_ARN,
    SharedKey.STREAM_NAME: Output.STREAM_NAME,
    SharedKey.STREAM_KEY_ARN: Output.STREAM_KEY_ARN,
    SharedKey.FUNCTION_NAME: Output.FUNCTION_NAME,
    SharedKey.TABLE_NAME: Output.TABLE_NAME,
    SharedKey.PROCESSED_BUCKET_NAME: Output.PROCESSED_BUCKET_NAME,
    SharedKey.FAILURE_BUCKET_NAME: Output.FAILURE_BUCKET_NAME,
    SharedKey.EVENT_SOURCE_MAPPING_ID: Output.EVENT_SOURCE_MAPPING_ID,
}


# The readings table: one item per reading, keyed by sensor and "<event time>#<reading id>" (Reading.sort_key).
PARTITION_KEY = "sensor_id"
SORT_KEY = "reading_key"
ANOMALY_FLAG = "anomaly"  # BOOL on every item
# The sparse index of anomalies: only anomalous items carry its keys.
ANOMALY_INDEX = "anomalies_by_type"
ANOMALY_PARTITION = "anomaly_partition"
ANOMALY_SORT = "anomaly_sort"
TTL_ATTRIBUTE = "expires_at"

# The processor's metrics (EMF) and the alias its event source mapping invokes; deployments shift the alias.
METRICS_NAMESPACE = "IotPlatform"
METRICS_SERVICE = "processor"
ALIAS_NAME = "live"


class Metric(StrEnum):
    """Every metric the processor emits (EMF, in ``METRICS_NAMESPACE``); ``DECLARED_METRICS`` gives each its unit
    and dimensions."""

    READINGS_RECEIVED = "ReadingsReceived"
    AGGREGATES_RECEIVED = "AggregatesReceived"
    READINGS_STORED = "ReadingsStored"
    READINGS_QUARANTINED = "ReadingsQuarantined"
    ANOMALIES_DETECTED = "AnomaliesDetected"
    ALERTS_REFUSED = "AlertsRefused"
    WRITES_THROTTLED = "WritesThrottled"  # item writes the table throttled and the processor sent again
    READINGS_FAILED = "ReadingsFailed"
    BATCH_DURATION = "BatchDuration"
    WEBHOOK_FAILURES = "WebhookFailures"
    COLD_START = "ColdStart"  # Powertools' own, once per execution environment


class MetricDimension(StrEnum):
    """The dimensions the processor's metrics carry: an alarm or a graph must name exactly a metric's set."""

    SERVICE = "service"  # always METRICS_SERVICE
    FUNCTION_NAME = "function_name"  # the function's name, on the cold-start metric only


@dataclass(frozen=True, kw_only=True)
class DeclaredMetric:
    """One metric as the processor emits it: its unit as CloudWatch spells it, and its exact dimension set."""

    name: Metric
    unit: str
    dimensions: frozenset[MetricDimension]


_PER_SERVICE = frozenset({MetricDimension.SERVICE})
_COUNTS_PER_BATCH = (
    Metric.READINGS_RECEIVED,
    Metric.AGGREGATES_RECEIVED,
    Metric.READINGS_STORED,
    Metric.READINGS_QUARANTINED,
    Metric.ANOMALIES_DETECTED,
    Metric.ALERTS_REFUSED,
    Metric.WRITES_THROTTLED,
    Metric.READINGS_FAILED,
    Metric.WEBHOOK_FAILURES,  # only for a batch whose webhook call failed
)
# What the processor emits, all of it: services/iot_processor/tests/test_contract.py runs the handler and
# fails when its EMF output differs from this, or when an alarm or a graph of any stage reads anything else.
DECLARED_METRICS: dict[Metric, DeclaredMetric] = {
    **{name: DeclaredMetric(name=name, unit="Count", dimensions=_PER_SERVICE) for name in _COUNTS_PER_BATCH},
    Metric.BATCH_DURATION: DeclaredMetric(name=Metric.BATCH_DURATION, unit="Milliseconds", dimensions=_PER_SERVICE),
    Metric.COLD_START: DeclaredMetric(
        name=Metric.COLD_START,
        unit="Count",
        dimensions=frozenset({MetricDimension.SERVICE, MetricDimension.FUNCTION_NAME}),
    ),
}


def per_service_dimensions(metric: Metric) -> dict[str, str]:
    """The dimensions (name -> value) under which ``metric`` is found, for a metric emitted per service only."""
    declared = DECLARED_METRICS[metric]
    if declared.dimensions != _PER_SERVICE:
        raise ValueError(f"{metric} carries {sorted(map(str, declared.dimensions))}, not the service dimension alone")
    return {MetricDimension.SERVICE: METRICS_SERVICE}


# The processed bucket. Keys are deterministic: a retried batch overwrites its own objects, and two concurrent
# invocations never collide, because each key carries the shard and the sequence numbers.
QUARANTINE_PREFIX = "quarantine/"
PROCESSED_PREFIX = "processed/"


def record_name(sequence_number: str, sub_record: int | None) -> str:
    """``<sequence number>`` for a plain record, ``<sequence number>-<index>`` for a reading inside an aggregate."""
    return sequence_number if sub_record is None else f"{sequence_number}-{sub_record}"


@dataclass(frozen=True, kw_only=True)
class StreamPosition:
    """Where a record sits in the stream; unique per record (per user record of a KPL aggregate)."""

    shard_id: str
    sequence_number: str  # of the Kinesis record; a retry or a partial batch failure names this one
    partition_key: str
    arrival: datetime
    sub_record: int | None = None  # the index inside a KPL aggregate; None for a plain record

    @property
    def name(self) -> str:
        return record_name(self.sequence_number, self.sub_record)


def quarantine_key(position: StreamPosition) -> str:
    """Where the processor puts a record it refused: the record's bytes and the reason, as JSON."""
    return f"{QUARANTINE_PREFIX}{position.arrival:%Y/%m/%d}/{position.shard_id}/{position.name}.json"


def processed_key(first: StreamPosition, last: StreamPosition) -> str:
    """Where the processor puts the stored readings of one batch, as gzipped JSON lines."""
    return f"{PROCESSED_PREFIX}{first.arrival:%Y/%m/%d/%H}/{first.shard_id}/{first.name}-{last.name}.jsonl.gz"
