"""The emulator's CloudFormation creates, updates and deletes alarms (ADR 0012): an alarm a stack creates is the
alarm PutMetricAlarm creates with the same parameters, a composite alarm keeps its rule with its members' ARNs, an
update keeps the state the evaluator set, and a renamed or removed alarm is gone."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from tools.local.emulator import LOCAL_REGION, Emulator, embedded_aws

METRIC_ALARM: dict[str, Any] = {
    "AlarmName": "iot-errors",
    "AlarmDescription": "failed invocations",
    "Namespace": "AWS/Lambda",
    "MetricName": "Errors",
    "Dimensions": [{"Name": "FunctionName", "Value": "processor"}],
    "Statistic": "Sum",
    "Period": 300,
    "EvaluationPeriods": 3,
    "DatapointsToAlarm": 2,
    "Threshold": 1,
    "ComparisonOperator": "GreaterThanOrEqualToThreshold",
    "TreatMissingData": "notBreaching",
    "AlarmActions": ["arn:aws:sns:eu-west-1:123456789012:ops"],
}
MATH_ALARM: dict[str, Any] = {
    "AlarmName": "iot-share",
    "EvaluationPeriods": 1,
    "Threshold": 0.05,
    "ComparisonOperator": "GreaterThanThreshold",
    "Metrics": [
        {"Id": "share", "Expression": "bad / all", "Label": "Bad share", "ReturnData": True},
        {
            "Id": "bad",
            "MetricStat": {
                "Metric": {"Namespace": "Iot", "MetricName": "Bad", "Dimensions": [{"Name": "s", "Value": "p"}]},
                "Period": 60,
                "Stat": "Sum",
            },
            "ReturnData": False,
        },
        {
            "Id": "all",
            "MetricStat": {"Metric": {"Namespace": "Iot", "MetricName": "All"}, "Period": 60, "Stat": "Sum"},
            "ReturnData": False,
        },
    ],
}
# Described alarms differ only in when they were made.
TIMESTAMPS = ("AlarmConfigurationUpdatedTimestamp", "StateUpdatedTimestamp")


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with embedded_aws(LOCAL_REGION) as running:
        yield running


def _template(threshold: float = 1, name: str = "iot-errors") -> dict[str, Any]:
    return {
        "Resources": {
            "Errors": {
                "Type": "AWS::CloudWatch::Alarm",
                "Properties": {**METRIC_ALARM, "AlarmName": name, "Threshold": threshold},
            },
            "Share": {"Type": "AWS::CloudWatch::Alarm", "Properties": MATH_ALARM},
            "Unhealthy": {
                "Type": "AWS::CloudWatch::CompositeAlarm",
                "Properties": {
                    "AlarmName": "iot-unhealthy",
                    "AlarmRule": {
                        "Fn::Join": [
                            "",
                            [
                                'ALARM("',
                                {"Fn::GetAtt": ["Errors", "Arn"]},
                                '") OR ALARM("',
                                {"Fn::GetAtt": ["Share", "Arn"]},
                                '")',
                            ],
                        ]
                    },
                },
            },
        },
        "Outputs": {"Unhealthy": {"Value": {"Ref": "Unhealthy"}}},
    }


def _described(cloudwatch: Any, *names: str) -> dict[str, dict[str, Any]]:
    found = cloudwatch.describe_alarms(AlarmNames=list(names), AlarmTypes=["CompositeAlarm", "MetricAlarm"])
    return {
        alarm["AlarmName"]: {k: v for k, v in alarm.items() if k not in TIMESTAMPS}
        for alarm in [*found["MetricAlarms"], *found["CompositeAlarms"]]
    }


def test_an_alarm_a_stack_creates_is_the_alarm_put_metric_alarm_creates(emulator: Emulator) -> None:
    cloudwatch = boto3.client("cloudwatch")
    boto3.client("cloudformation").create_stack(StackName="alarms-equivalence", TemplateBody=json.dumps(_template()))
    through_stack = _described(cloudwatch, "iot-errors", "iot-share")
    cloudwatch.delete_alarms(AlarmNames=["iot-errors", "iot-share"])
    cloudwatch.put_metric_alarm(**METRIC_ALARM)
    cloudwatch.put_metric_alarm(**MATH_ALARM)
    assert through_stack == _described(cloudwatch, "iot-errors", "iot-share")
    assert through_stack["iot-share"]["Metrics"][1]["MetricStat"]["Metric"]["Dimensions"] == [
        {"Name": "s", "Value": "p"}
    ]


def test_a_composite_alarm_keeps_its_rule_with_its_members_arns_and_is_named_by_its_ref(emulator: Emulator) -> None:
    cloudformation = boto3.client("cloudformation")
    cloudformation.create_stack(StackName="alarms-composite", TemplateBody=json.dumps(_template(name="iot-other")))
    outputs = cloudformation.describe_stacks(StackName="alarms-composite")["Stacks"][0]["Outputs"]
    assert outputs == [{"OutputKey": "Unhealthy", "OutputValue": "iot-unhealthy"}]
    composite = _described(boto3.client("cloudwatch"), "iot-unhealthy")["iot-unhealthy"]
    arn = f"arn:aws:cloudwatch:{LOCAL_REGION}:{boto3.client('sts').get_caller_identity()['Account']}:alarm:"
    assert composite["AlarmRule"] == f'ALARM("{arn}iot-other") OR ALARM("{arn}iot-share")'


def test_an_update_keeps_the_state_a_rename_replaces_the_alarm_and_a_deleted_stack_takes_its_alarms(
    emulator: Emulator,
) -> None:
    cloudformation, cloudwatch = boto3.client("cloudformation"), boto3.client("cloudwatch")
    cloudformation.create_stack(StackName="alarms-lifecycle", TemplateBody=json.dumps(_template(name="iot-cycle")))
    cloudwatch.set_alarm_state(AlarmName="iot-cycle", StateValue="ALARM", StateReason="evaluated")

    cloudformation.update_stack(StackName="alarms-lifecycle", TemplateBody=json.dumps(_template(5, "iot-cycle")))
    updated = _described(cloudwatch, "iot-cycle")["iot-cycle"]
    assert (updated["Threshold"], updated["StateValue"], updated["StateReason"]) == (5.0, "ALARM", "evaluated")

    cloudformation.update_stack(StackName="alarms-lifecycle", TemplateBody=json.dumps(_template(5, "iot-renamed")))
    assert set(_described(cloudwatch, "iot-cycle", "iot-renamed")) == {"iot-renamed"}

    cloudformation.delete_stack(StackName="alarms-lifecycle")
    assert _described(cloudwatch, "iot-renamed") == {}
