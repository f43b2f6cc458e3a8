"""One dashboard per stage, top to bottom in the order a reading travels: stream, processor, where readings
come to rest (table, quarantine, failure bucket), the raw archive; the alarm status first, so it is seen first."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from constructs import Construct

from services.iot_processor.contract import ANOMALY_INDEX, Metric
from services.observability.infra.alarms import RUNBOOK, DataPathAlarms
from services.observability.infra.metrics import DataPathMetrics
from services.observability.infra.naming import stage_resource_name

# Stream, Lambda and EMF metrics exist per minute; a finer graph than the alarms' periods helps find the start.
GRAPH_PERIOD = Duration.minutes(1)
STORAGE_WINDOW = "-P30D"  # bucket growth over the last 30 days
WIDTH = 24  # the dashboard grid is 24 columns wide
ROW_HEIGHT = 6


class DataPathDashboard(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        metrics: DataPathMetrics,
        alarms: DataPathAlarms,
    ) -> None:
        super().__init__(scope, construct_id)
        self.dashboard = cw.Dashboard(
            self,
            "Dashboard",
            dashboard_name=stage_resource_name(stage, "data-path"),
            default_interval=Duration.hours(3),
        )
        m, resources = metrics, metrics.resources

        def alarm_lines(*symptoms: str) -> list[cw.HorizontalAnnotation]:
            """Each alarm's threshold as a line on the graph of the metric it watches (a stage may lack one)."""
            return [alarms.alarms[symptom].to_annotation() for symptom in symptoms if symptom in alarms.alarms]

        self.dashboard.add_widgets(
            cw.TextWidget(
                markdown=f"# IoT {stage}: data path\nEvery alarm has a section in `{RUNBOOK}` named after it.",
                width=WIDTH,
                height=2,
            ),
            cw.AlarmStatusWidget(
                title="Alarms", alarms=[alarms.composite, *alarms.alarms.values()], width=WIDTH, height=3
            ),
        )
        self._row(
            "Kinesis readings stream",
            _graph(
                "Incoming records and bytes",
                [m.stream("IncomingRecords")],
                right=[m.stream("IncomingBytes")],
                alarms=alarm_lines("ingest-silent"),
            ),
            _graph(
                "Throttled writes and reads",
                [m.stream("WriteProvisionedThroughputExceeded"), m.stream("ReadProvisionedThroughputExceeded")],
                alarms=alarm_lines("stream-write-throttles"),
            ),
            _graph(
                "Iterator age (ms)",
                [
                    m.stream("GetRecords.IteratorAgeMilliseconds", cw.Stats.MAXIMUM).with_(label="All consumers"),
                    m.function("IteratorAge", cw.Stats.MAXIMUM).with_(label="Processor"),
                ],
                alarms=alarm_lines("processor-iterator-age"),
            ),
        )
        self._row(
            "Processor Lambda",
            _graph(
                "Invocations, errors, throttles",
                [m.function("Invocations")],
                right=[m.function("Errors"), m.function("Throttles")],
                right_alarms=alarm_lines("processor-errors", "processor-throttles"),
            ),
            _graph(
                "Duration (ms)",
                [
                    m.function("Duration", cw.Stats.p(50)).with_(label="p50"),
                    m.function("Duration", cw.Stats.p(99)).with_(label="p99"),
                ],
            ),
            _graph("Concurrent executions", [m.function("ConcurrentExecutions", cw.Stats.MAXIMUM)]),
        )
        self._row(
            "Event source mapping",
            _graph(
                "Events polled and invoked; to the failure bucket and dropped",
                [m.mapping("PolledEventCount"), m.mapping("InvokedEventCount")],
                right=[m.mapping("OnFailureDestinationDeliveredEventCount"), m.mapping("DroppedEventCount")],
                right_alarms=alarm_lines("mapping-dropped-events"),
            ),
        )
        self._row(
            "Processor readings (EMF)",
            _graph(
                "Readings",
                [
                    m.processor(name)
                    for name in (Metric.READINGS_RECEIVED, Metric.READINGS_STORED, Metric.READINGS_QUARANTINED)
                ],
                right=[m.processor(Metric.ANOMALIES_DETECTED), m.processor(Metric.READINGS_FAILED)],
                right_alarms=alarm_lines("processor-readings-failed"),
            ),
            _graph("Quarantine share", [m.quarantine_share()], alarms=alarm_lines("processor-quarantine-share")),
            _graph(
                "Batch duration (ms)",
                [
                    m.processor(Metric.BATCH_DURATION, cw.Stats.p(50)).with_(label="p50"),
                    m.processor(Metric.BATCH_DURATION, cw.Stats.MAXIMUM).with_(label="max"),
                ],
            ),
        )
        self._row(
            "Failure destination and quarantine growth",
            _graph(
                "Readings failed (retried) and quarantined",
                [m.processor(Metric.READINGS_FAILED), m.processor(Metric.READINGS_QUARANTINED)],
            ),
            _storage_graph("Failure bucket (batches after the last retry)", m, resources.failure_bucket_name),
            _storage_graph("Processed bucket (processed/ and quarantine/)", m, resources.processed_bucket_name),
        )
        self._row(
            "DynamoDB readings table",
            # A provisioned table's capacity beside what it consumes; an on-demand table has no provisioned line.
            _graph(
                "Write capacity (WCU/s): consumed and provisioned",
                [
                    cw.MathExpression(
                        expression="consumed / PERIOD(consumed)",
                        using_metrics={"consumed": m.table("ConsumedWriteCapacityUnits")},
                        label="Consumed",
                    ),
                    m.table("ProvisionedWriteCapacityUnits", cw.Stats.MAXIMUM).with_(label="Provisioned (table)"),
                    m.table(
                        "ProvisionedWriteCapacityUnits", cw.Stats.MAXIMUM, GlobalSecondaryIndexName=ANOMALY_INDEX
                    ).with_(label=f"Provisioned ({ANOMALY_INDEX})"),
                ],
                alarms=alarm_lines("table-write-capacity-at-max", "index-write-capacity-at-max"),
            ),
            _graph(
                "Write throttle events",
                [
                    m.table("WriteThrottleEvents").with_(label="Table"),
                    m.table("WriteThrottleEvents", GlobalSecondaryIndexName=ANOMALY_INDEX).with_(label=ANOMALY_INDEX),
                ],
                alarms=alarm_lines("table-write-throttles"),
            ),
            _graph("System errors", [m.table_system_errors(GRAPH_PERIOD)]),
        )
        self._row(
            "Firehose raw archive",
            _graph(
                "Data freshness (s)",
                [m.delivery("DeliveryToS3.DataFreshness", cw.Stats.MAXIMUM)],
                alarms=alarm_lines("archive-freshness"),
            ),
            _graph(
                "Delivery success and records",
                [m.delivery("DeliveryToS3.Success", cw.Stats.AVERAGE)],
                right=[m.delivery("DeliveryToS3.Records", cw.Stats.SUM)],
            ),
            _storage_graph("Raw archive bucket", m, resources.raw_bucket_name),
        )

    def _row(self, title: str, *widgets: cw.IWidget) -> None:
        self.dashboard.add_widgets(cw.TextWidget(markdown=f"## {title}", width=WIDTH, height=1))
        self.dashboard.add_widgets(*widgets)


def _graph(
    title: str,
    left: Sequence[cw.Metric | cw.MathExpression],
    *,
    right: Sequence[cw.Metric] = (),
    alarms: Sequence[cw.HorizontalAnnotation] = (),
    right_alarms: Sequence[cw.HorizontalAnnotation] = (),
) -> cw.GraphWidget:
    return cw.GraphWidget(
        title=title,
        left=[metric.with_(period=GRAPH_PERIOD) for metric in left],
        right=[metric.with_(period=GRAPH_PERIOD) for metric in right],
        left_annotations=list(alarms),
        right_annotations=list(right_alarms),
        width=WIDTH // 3,
        height=ROW_HEIGHT,
    )


def _storage_graph(title: str, metrics: DataPathMetrics, bucket_name: str) -> cw.GraphWidget:
    size, count = metrics.bucket_storage(bucket_name)
    return cw.GraphWidget(
        title=title,
        left=[size],
        right=[count],
        start=STORAGE_WINDOW,  # one point a day: the dashboard's hours would show nothing
        width=WIDTH // 3,
        height=ROW_HEIGHT,
    )
