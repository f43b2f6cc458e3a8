"""The data path's alarms, one per symptom, and a composite "data path unhealthy" over them, all on the ops topic.

Every alarm is named ``iot-<stage>-<symptom>`` so a notification says where and what, and its description
points at the section of docs/runbooks.md named after the symptom. Missing data is "not breaching" for all
of them but one, each for its own reason (see ``_specs``): every metric here is published only while something
happens, and an idle stage (dev between test runs) must read as healthy, not as INSUFFICIENT_DATA that flips
back and forth and sends OK notifications. The exception is the stage that expects traffic: there, silence is
the symptom (``ingest-silent``).
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from constructs import Construct

from services.iot_processor.contract import ANOMALY_INDEX, Metric
from services.observability.config import ObservabilityConfig
from services.observability.infra.metrics import DataPathMetrics
from services.observability.infra.naming import stage_resource_name
from services.observability.infra.ops_topic import OpsTopic
from shared.infra.naming import pascal_case

RUNBOOK = "docs/runbooks.md"
COMPOSITE_SYMPTOM = "data-path-unhealthy"
GT = cw.ComparisonOperator.GREATER_THAN_THRESHOLD
GTE = cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
LT = cw.ComparisonOperator.LESS_THAN_THRESHOLD
NOT_BREACHING = cw.TreatMissingData.NOT_BREACHING


@dataclass(frozen=True, kw_only=True)
class WriteCeilings:
    """The auto scaling ceilings of a provisioned readings table and of its anomaly index, in WCU."""

    table: int
    index: int


@dataclass(frozen=True, kw_only=True)
class AlarmSpec:
    symptom: str
    summary: str
    metric: cw.Metric | cw.MathExpression  # its period comes from ``period``
    threshold: float
    comparison: cw.ComparisonOperator
    period: Duration
    evaluation_periods: int = 1
    datapoints_to_alarm: int | None = None  # None: all evaluation periods must breach
    treat_missing_data: cw.TreatMissingData = NOT_BREACHING


class DataPathAlarms(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        config: ObservabilityConfig,
        firehose_buffer_interval: Duration,
        write_ceilings: WriteCeilings | None,
        metrics: DataPathMetrics,
        topic: OpsTopic,
    ) -> None:
        super().__init__(scope, construct_id)
        topic.allow_service_to_publish(
            sid="CloudWatchAlarmsOfThisStage",
            service="cloudwatch.amazonaws.com",
            source_arn=Stack.of(self).format_arn(
                service="cloudwatch",
                resource="alarm",
                resource_name=stage_resource_name(stage, "*"),
                arn_format=ArnFormat.COLON_RESOURCE_NAME,
            ),
        )
        action = cw_actions.SnsAction(topic.topic)
        self.alarms: dict[str, cw.Alarm] = {}
        for spec in _specs(config, firehose_buffer_interval, metrics, write_ceilings):
            alarm = cw.Alarm(
                self,
                pascal_case(spec.symptom),
                alarm_name=stage_resource_name(stage, spec.symptom),
                alarm_description=f"{spec.summary} Runbook: {RUNBOOK}#{spec.symptom}",
                metric=spec.metric.with_(period=spec.period),
                threshold=spec.threshold,
                comparison_operator=spec.comparison,
                evaluation_periods=spec.evaluation_periods,
                datapoints_to_alarm=spec.datapoints_to_alarm,
                treat_missing_data=spec.treat_missing_data,
            )
            self.alarms[spec.symptom] = alarm
        self.composite = cw.CompositeAlarm(
            self,
            pascal_case(COMPOSITE_SYMPTOM),
            composite_alarm_name=stage_resource_name(stage, COMPOSITE_SYMPTOM),
            alarm_description=(
                f"At least one alarm of the {stage} data path is in ALARM; the alarm status on the dashboard says "
                f"which. Runbook: {RUNBOOK}#{COMPOSITE_SYMPTOM}"
            ),
            alarm_rule=cw.AlarmRule.any_of(*self.alarms.values()),
        )
        for each in (*self.alarms.values(), self.composite):
            each.add_alarm_action(action)
            each.add_ok_action(action)  # the all-clear tells whoever picked it up that the symptom is gone


def _specs(
    config: ObservabilityConfig,
    buffer_interval: Duration,
    metrics: DataPathMetrics,
    ceilings: WriteCeilings | None,
) -> list[AlarmSpec]:
    return [
        *_data_path_specs(config, buffer_interval, metrics),
        *_capacity_specs(metrics, ceilings),
        *_silence_specs(config, metrics),
    ]


def _capacity_specs(metrics: DataPathMetrics, ceilings: WriteCeilings | None) -> list[AlarmSpec]:
    """A provisioned table's auto scaling at its ceiling for 15 minutes: it can grow no further, so throttling from
    here on lasts until someone raises the ceiling. An on-demand table has none."""
    if ceilings is None:
        return []
    return [
        AlarmSpec(
            symptom=f"{owner}-write-capacity-at-max",
            summary=f"Auto scaling has held the {what}'s write capacity at its ceiling ({ceiling:,} WCU) for 15 "
            "minutes.",
            metric=metrics.table("ProvisionedWriteCapacityUnits", cw.Stats.MAXIMUM, **dimensions),
            threshold=ceiling,
            comparison=GTE,
            period=Duration.minutes(5),
            evaluation_periods=3,
        )
        for owner, what, ceiling, dimensions in (
            ("table", "readings table", ceilings.table, {}),
            ("index", "anomaly index", ceilings.index, {"GlobalSecondaryIndexName": ANOMALY_INDEX}),
        )
    ]


def _silence_specs(config: ObservabilityConfig, metrics: DataPathMetrics) -> list[AlarmSpec]:
    if config.ingest_silence_minutes is None:
        return []
    # Producers stopped, or cannot reach the stream: no record at all for the configured time. Kinesis publishes
    # IncomingRecords only while records come in, so a missing datapoint is the silence itself.
    return [
        AlarmSpec(
            symptom="ingest-silent",
            summary=f"The readings stream received no record for {config.ingest_silence_minutes} minutes.",
            metric=metrics.stream("IncomingRecords"),
            threshold=1,
            comparison=LT,
            period=Duration.minutes(config.ingest_silence_minutes),
            treat_missing_data=cw.TreatMissingData.BREACHING,
        )
    ]


def _data_path_specs(
    config: ObservabilityConfig, buffer_interval: Duration, metrics: DataPathMetrics
) -> list[AlarmSpec]:
    five_minutes = Duration.minutes(5)
    return [
        # The processor's own position in the stream (the stream-wide metric also counts Firehose). Lambda
        # publishes IteratorAge only for invocations, so an idle stream has no data: healthy, not breaching.
        AlarmSpec(
            symptom="processor-iterator-age",
            summary="The processor is falling behind the stream: the oldest record it read is too old.",
            metric=metrics.function("IteratorAge", cw.Stats.MAXIMUM),
            threshold=config.iterator_age_threshold_seconds * 1000,
            comparison=GT,
            period=Duration.minutes(1),
            # 3 of 5 minutes: a single retried batch lifts the age briefly; a backlog keeps it up.
            evaluation_periods=5,
            datapoints_to_alarm=3,
        ),
        # Errors and Throttles are published only for periods with invocations; none means idle, not broken.
        AlarmSpec(
            symptom="processor-errors",
            summary="The processor failed whole invocations (the batch is retried, bisected, then sent to the "
            "failure bucket).",
            metric=metrics.function("Errors"),
            threshold=config.error_threshold,
            comparison=GTE,
            period=five_minutes,
        ),
        AlarmSpec(
            symptom="processor-throttles",
            summary="Invocations of the processor were throttled (reserved concurrency or account limit).",
            metric=metrics.function("Throttles"),
            threshold=config.throttle_threshold,
            comparison=GTE,
            period=five_minutes,
        ),
        # EMF metrics are emitted once per batch; no batch, no datapoint.
        AlarmSpec(
            symptom="processor-readings-failed",
            summary="The processor reported readings as failed, up to whole batches (reported, not raised); they are "
            "retried and, after the last retry, land in the failure bucket.",
            metric=metrics.processor(Metric.READINGS_FAILED),
            threshold=0,
            comparison=GT,
            period=five_minutes,
        ),
        # 15 minutes in a row: one producer's bad burst should not page, a broken producer should.
        AlarmSpec(
            symptom="processor-quarantine-share",
            summary=f"More than {config.quarantine_share_threshold * 100:g}% of the readings received were quarantined "
            "as invalid.",
            metric=metrics.quarantine_share(),
            threshold=config.quarantine_share_threshold,
            comparison=GT,
            period=five_minutes,
            evaluation_periods=3,
        ),
        # DynamoDB publishes throttle events only when a write was throttled, filled with 0 (metrics.py says why). A
        # provisioned table throttles in bursts by design (the processor retries, the stream waits): only throttling
        # in each of 5 minutes pages.
        AlarmSpec(
            symptom="table-write-throttles",
            summary="Writes to the readings table or its anomaly index were throttled in each of the last 5 minutes.",
            metric=metrics.write_throttles(),
            threshold=config.throttle_threshold,
            comparison=GTE,
            period=Duration.minutes(1),
            evaluation_periods=5,
        ),
        # Kinesis publishes this only while producers put records.
        AlarmSpec(
            symptom="stream-write-throttles",
            summary="Producers' puts to the readings stream were rejected: the stream is at its write capacity.",
            metric=metrics.stream("WriteProvisionedThroughputExceeded"),
            threshold=config.throttle_threshold,
            comparison=GTE,
            period=five_minutes,
        ),
        # The mapping counts events only while it reads some. A dropped event is lost: past its maximum age or retry
        # attempts, and not written to the failure bucket either (those are OnFailureDestinationDeliveredEventCount).
        AlarmSpec(
            symptom="mapping-dropped-events",
            summary="The processor's event source mapping dropped records: they reached neither the processor nor "
            "the failure bucket.",
            metric=metrics.mapping("DroppedEventCount"),
            threshold=1,
            comparison=GTE,
            period=five_minutes,
        ),
        # Firehose reports freshness only while it holds records; nothing buffered means nothing late.
        AlarmSpec(
            symptom="archive-freshness",
            summary="The oldest record in Firehose waited longer than the buffer interval plus a margin: the raw "
            "archive is falling behind.",
            metric=metrics.delivery("DeliveryToS3.DataFreshness", cw.Stats.MAXIMUM),
            threshold=buffer_interval.to_seconds() + config.freshness_margin_seconds,
            comparison=GT,
            period=five_minutes,
        ),
    ]
