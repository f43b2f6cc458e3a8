"""Alarms read from a resolved template: plain and metric-math alarms, composites, and every property refused."""

from __future__ import annotations

from typing import Any

import pytest

from tools.alarms.definitions import (
    Comparison,
    CompositeAlarm,
    DefinitionError,
    MetricAlarm,
    MetricStat,
    MissingData,
    Query,
    alarms_in,
    metric_alarm,
)

PLAIN: dict[str, Any] = {
    "AlarmName": "iot-dev-processor-errors",
    "Namespace": "AWS/Lambda",
    "MetricName": "Errors",
    "Dimensions": [{"Name": "FunctionName", "Value": "fn"}, {"Name": "Resource", "Value": "fn:live"}],
    "Statistic": "Sum",
    "Period": 300,
    "Threshold": 1,
    "ComparisonOperator": "GreaterThanOrEqualToThreshold",
    "EvaluationPeriods": 1,
    "TreatMissingData": "notBreaching",
}
MATH: dict[str, Any] = {
    "AlarmName": "share",
    "Metrics": [
        {"Id": "e", "Expression": "a / b", "ReturnData": True},
        {
            "Id": "a",
            "MetricStat": {"Metric": {"Namespace": "N", "MetricName": "A"}, "Period": 60, "Stat": "Sum"},
            "ReturnData": False,
        },
        {
            "Id": "b",
            "MetricStat": {"Metric": {"Namespace": "N", "MetricName": "B"}, "Period": 60, "Stat": "Sum"},
            "ReturnData": False,
        },
    ],
    "Threshold": 0.05,
    "ComparisonOperator": "GreaterThanThreshold",
    "EvaluationPeriods": 3,
    "DatapointsToAlarm": 2,
}


def test_a_plain_alarm_is_one_query_of_its_metric() -> None:
    alarm = metric_alarm(PLAIN, where="X")
    stat = MetricStat(
        namespace="AWS/Lambda",
        name="Errors",
        dimensions=(("FunctionName", "fn"), ("Resource", "fn:live")),
        stat="Sum",
        period=300,
    )
    assert alarm == MetricAlarm(
        name="iot-dev-processor-errors",
        queries=(Query(id="m", stat=stat),),
        period=300,
        threshold=1.0,
        comparison=Comparison.GREATER_OR_EQUAL,
        evaluation_periods=1,
        datapoints_to_alarm=1,
        treat_missing_data=MissingData.NOT_BREACHING,
    )
    assert alarm.result.stat == stat
    shorter = alarm.with_period(2)
    assert (shorter.period, shorter.result.stat and shorter.result.stat.period) == (2, 2)


def test_a_math_alarm_keeps_every_query_and_returns_its_expression() -> None:
    alarm = metric_alarm(MATH, where="X")
    assert [q.id for q in alarm.queries] == ["e", "a", "b"]
    assert alarm.result.expression == "a / b"
    assert (alarm.period, alarm.datapoints_to_alarm, alarm.treat_missing_data) == (60, 2, MissingData.MISSING)
    assert {q.stat.period for q in alarm.with_period(5).queries if q.stat} == {5}


def test_a_template_gives_its_metric_and_composite_alarms() -> None:
    template = {
        "Resources": {
            "A": {"Type": "AWS::CloudWatch::Alarm", "Properties": PLAIN},
            "C": {"Type": "AWS::CloudWatch::CompositeAlarm", "Properties": {"AlarmName": "c", "AlarmRule": "ALARM(x)"}},
            "T": {"Type": "AWS::SNS::Topic", "Properties": {}},
        }
    }
    found = list(alarms_in(template))
    assert [type(alarm) for alarm in found] == [MetricAlarm, CompositeAlarm]
    assert found[1] == CompositeAlarm(name="c", rule="ALARM(x)")


def _without(properties: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in properties.items() if k != key}


@pytest.mark.parametrize(
    ("properties", "problem"),
    [
        (_without(PLAIN, "AlarmName"), "X: AlarmName is missing"),
        (_without(PLAIN, "Threshold"), "Threshold is missing"),
        ({**PLAIN, "Threshold": True}, "Threshold must be int or float"),
        ({**PLAIN, "Period": 0}, "Period must be at least 1, got 0"),
        ({**PLAIN, "EvaluationPeriods": 0}, "EvaluationPeriods must be at least 1"),
        ({**PLAIN, "DatapointsToAlarm": 2}, "DatapointsToAlarm must be between 1 and EvaluationPeriods \\(1\\)"),
        ({**PLAIN, "DatapointsToAlarm": 0}, "got 0"),
        ({**PLAIN, "ComparisonOperator": "LessThanLowerThreshold"}, "'LessThanLowerThreshold' is not one of"),
        ({**PLAIN, "TreatMissingData": "sometimes"}, "'sometimes' is not one of"),
        (_without(PLAIN, "Statistic"), "no Statistic or ExtendedStatistic"),
        ({**PLAIN, "Dimensions": [{"Name": "FunctionName", "Value": {"Ref": "Fn"}}]}, "a reference left unresolved"),
        ({**PLAIN, "ThresholdMetricId": "ad1"}, "anomaly-detection alarms"),
        (
            {
                **MATH,
                "Metrics": [
                    {**MATH["Metrics"][1], "MetricStat": {**MATH["Metrics"][1]["MetricStat"], "Period": 5}},
                    *MATH["Metrics"][::2],
                ],
            },
            "share one period, got \\[5, 60\\]",
        ),
        ({**MATH, "Metrics": [{**m, "ReturnData": True} for m in MATH["Metrics"]]}, "exactly one of its Metrics"),
    ],
)
def test_each_property_is_checked_with_an_error_naming_it(properties: dict[str, Any], problem: str) -> None:
    with pytest.raises(DefinitionError, match=problem):
        metric_alarm(properties, where="X")


def test_a_composite_without_its_rule_is_refused() -> None:
    template = {"Resources": {"C": {"Type": "AWS::CloudWatch::CompositeAlarm", "Properties": {"AlarmName": "c"}}}}
    with pytest.raises(DefinitionError, match="c: AlarmRule is missing"):
        list(alarms_in(template))
