"""The evaluator over a stage's alarms: plain, metric math and composite, evaluated at successive times over
per-period statistics, with the period override, the DynamoDB rule, its errors, and the CloudWatch source."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tools.alarms.definitions import Alarm, CompositeAlarm, MetricStat, State, metric_alarm
from tools.alarms.evaluator import AlarmEvaluator, CloudWatchSource
from tools.alarms.expressions import Series

OK, ALARM, INSUFFICIENT = State.OK, State.ALARM, State.INSUFFICIENT_DATA


class Datapoints:
    """A metric source holding each metric's statistic per period, as GetMetricData would answer it."""

    def __init__(self) -> None:
        self.series: dict[tuple[str, str, int], Series] = {}
        self.requests: list[tuple[list[MetricStat], int, int]] = []

    def put(self, name: str, stat: str, period: int, values: dict[int, float]) -> None:
        self.series.setdefault((name, stat, period), {}).update(values)

    def fetch(self, stats: Sequence[MetricStat], *, start: int, end: int) -> list[Series]:
        self.requests.append((list(stats), start, end))
        return [
            {t: v for t, v in self.series.get((s.name, s.stat, s.period), {}).items() if start <= t < end}
            for s in stats
        ]


def plain(
    name: str, metric: str, *, period: int = 60, threshold: float = 1, namespace: str = "AWS/Lambda", **more: Any
) -> Alarm:
    return metric_alarm(
        {
            "AlarmName": name,
            "Namespace": namespace,
            "MetricName": metric,
            "Statistic": "Sum",
            "Period": period,
            "Threshold": threshold,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "EvaluationPeriods": 1,
            "TreatMissingData": "notBreaching",
            **more,
        },
        where=name,
    )


def share(name: str = "share", *, expression: str = "IF(received > 0, quarantined / received, 0)") -> Alarm:
    def stat(metric: str) -> dict[str, Any]:
        return {"Metric": {"Namespace": "IotPlatform", "MetricName": metric}, "Period": 60, "Stat": "Sum"}

    return metric_alarm(
        {
            "AlarmName": name,
            "Metrics": [
                {"Id": "e", "Expression": expression, "ReturnData": True},
                {"Id": "quarantined", "MetricStat": stat("Quarantined"), "ReturnData": False},
                {"Id": "received", "MetricStat": stat("Received"), "ReturnData": False},
            ],
            "Threshold": 0.05,
            "ComparisonOperator": "GreaterThanThreshold",
            "EvaluationPeriods": 3,
            "TreatMissingData": "notBreaching",
        },
        where=name,
    )


COMPOSITE = CompositeAlarm(name="unhealthy", rule='ALARM("errors") OR ALARM("share")')


def test_a_plain_alarm_breaches_stays_while_its_datapoint_is_in_the_range_then_recovers() -> None:
    data = Datapoints()
    data.put("Errors", "Sum", 60, {600: 0, 660: 2})
    evaluator = AlarmEvaluator([plain("errors", "Errors")], data)
    assert evaluator.evaluate(610)["errors"] is OK
    assert evaluator.evaluate(670)["errors"] is ALARM
    assert evaluator.evaluate(790)["errors"] is ALARM  # still the newest real datapoint of its range
    assert evaluator.evaluate(850)["errors"] is OK  # out of the range of 3: missing, not breaching
    assert [(t.at, t.previous, t.state) for t in evaluator.transitions] == [
        (610, INSUFFICIENT, OK),
        (670, OK, ALARM),
        (850, ALARM, OK),
    ]


def test_a_metric_math_alarm_and_the_composite_over_it() -> None:
    data = Datapoints()
    data.put("Received", "Sum", 60, {0: 100, 60: 100, 120: 100, 180: 100})
    data.put("Quarantined", "Sum", 60, {0: 1, 60: 50, 120: 50, 180: 50})
    evaluator = AlarmEvaluator([plain("errors", "Errors"), share(), COMPOSITE], data)
    assert evaluator.evaluate(130) == {"errors": OK, "share": OK, "unhealthy": OK}  # 2 of 3 breaching
    assert evaluator.evaluate(190) == {"errors": OK, "share": ALARM, "unhealthy": ALARM}
    data.put("Quarantined", "Sum", 60, {240: 0})
    data.put("Received", "Sum", 60, {240: 0})  # nothing received: IF gives 0, not a division by zero
    assert evaluator.evaluate(250) == {"errors": OK, "share": OK, "unhealthy": OK}


def test_the_period_override_reads_every_metric_at_that_period() -> None:
    data = Datapoints()
    data.put("Errors", "Sum", 2, {100: 1})
    evaluator = AlarmEvaluator([plain("errors", "Errors", period=300)], data, period_override=2)
    assert evaluator.evaluate(101)["errors"] is ALARM
    ((stats, start, end),) = data.requests
    assert ([s.period for s in stats], start, end) == ([2], 96, 102)
    with pytest.raises(ValueError, match="at least 1 second, got 0"):
        AlarmEvaluator([], data, period_override=0)


def test_an_alarm_on_a_dynamodb_metric_ignores_missing_data_whatever_it_asks() -> None:
    data = Datapoints()
    throttles = plain("throttles", "WriteThrottleEvents", namespace="AWS/DynamoDB")
    filled = metric_alarm(
        {
            "AlarmName": "filled",
            "Metrics": [
                {"Id": "e", "Expression": "FILL(t, 0)"},
                {
                    "Id": "t",
                    "MetricStat": {
                        "Metric": {"Namespace": "AWS/DynamoDB", "MetricName": "WriteThrottleEvents"},
                        "Period": 60,
                        "Stat": "Sum",
                    },
                    "ReturnData": False,
                },
            ],
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "EvaluationPeriods": 1,
            "TreatMissingData": "notBreaching",
        },
        where="filled",
    )
    evaluator = AlarmEvaluator([throttles, filled], data)
    assert evaluator.evaluate(10) == {"throttles": INSUFFICIENT, "filled": OK}
    data.put("WriteThrottleEvents", "Sum", 60, {60: 3})
    assert evaluator.evaluate(70) == {"throttles": ALARM, "filled": ALARM}
    assert evaluator.evaluate(600) == {"throttles": ALARM, "filled": OK}  # stuck: no datapoint brings it back


def test_composite_rules_must_name_existing_alarms_and_names_must_not_repeat() -> None:
    with pytest.raises(ValueError, match=r"names alarms that do not exist: \['share'\]"):
        AlarmEvaluator([plain("errors", "Errors"), COMPOSITE], Datapoints())
    with pytest.raises(ValueError, match=r"alarm names repeat: \['errors'\]"):
        AlarmEvaluator([plain("errors", "Errors"), plain("errors", "Throttles")], Datapoints())


def test_an_expression_reading_an_id_no_query_has_is_an_error() -> None:
    evaluator = AlarmEvaluator([share(expression="quarantined / total")], Datapoints())
    with pytest.raises(ValueError, match=r"share: expressions \['e'\] read ids that no query has"):
        evaluator.evaluate(100)


def test_the_report_gives_each_alarms_state_changes_and_newest_datapoint() -> None:
    data = Datapoints()
    data.put("Errors", "Sum", 60, {60: 1})
    evaluator = AlarmEvaluator([plain("errors", "Errors"), plain("throttles", "Throttles")], data)
    evaluator.evaluate(30)
    evaluator.evaluate(70)
    assert evaluator.report(since=20).splitlines() == [
        "  errors     ALARM              OK at +10.0 s, ALARM at +50.0 s  newest datapoint 1",
        "  throttles  OK                 OK at +10.0 s  no datapoint in its range",
    ]


def test_the_reason_names_a_composites_members_in_alarm_and_a_metric_alarms_newest_datapoint() -> None:
    data = Datapoints()
    data.put("Received", "Sum", 60, {60: 100, 120: 100, 180: 100})
    data.put("Quarantined", "Sum", 60, {60: 50, 120: 50, 180: 50})
    evaluator = AlarmEvaluator([plain("errors", "Errors"), share(), COMPOSITE], data, period_override=60)
    evaluator.evaluate(30)
    assert evaluator.reason("unhealthy") == "OK: members in ALARM: none"
    assert evaluator.reason("errors") == (
        "OK: no datapoint in its range; GreaterThanOrEqualToThreshold 1, 1 of 1 periods of 60 s"
    )
    evaluator.evaluate(190)
    assert evaluator.reason("unhealthy") == "ALARM: members in ALARM: share"
    assert evaluator.reason("share") == (
        "ALARM: newest datapoint 0.5; GreaterThanThreshold 0.05, 3 of 3 periods of 60 s"
    )


@pytest.fixture
def cloudwatch() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("cloudwatch", region_name="eu-west-1")


def test_the_cloudwatch_source_reads_each_metrics_statistic_per_period(cloudwatch: Any) -> None:
    def put(value: float, second: int) -> None:
        cloudwatch.put_metric_data(
            Namespace="AWS/Lambda",
            MetricData=[
                {
                    "MetricName": "Errors",
                    "Dimensions": [{"Name": "FunctionName", "Value": "fn"}],
                    "Value": value,
                    "Timestamp": datetime.fromtimestamp(second, UTC),
                }
            ],
        )

    now = int(datetime.now(UTC).timestamp()) // 60 * 60
    for value, second in ((1, now - 120), (2, now - 100), (5, now)):
        put(value, second)
    stat = MetricStat(
        namespace="AWS/Lambda", name="Errors", dimensions=(("FunctionName", "fn"),), stat="Sum", period=60
    )
    (series,) = CloudWatchSource(cloudwatch).fetch([stat], start=now - 180, end=now + 60)
    assert series == {now - 120: 3.0, now: 5.0}
