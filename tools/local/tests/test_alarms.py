"""The local stage's alarms and dashboard read from its deployed templates, each reference resolved as
CloudFormation resolved it, and evaluated over what the loops publish."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.cloudwatch.models import cloudwatch_backends

from tools.alarms.definitions import Alarm, CompositeAlarm, MetricAlarm, State
from tools.alarms.templates import TemplateError
from tools.local.alarms import AlarmNotDeployedError, AlarmWatch, stage_monitoring
from tools.local.deploy import DeployedStack, DeployedStage
from tools.local.emulator_server import alarm_arguments
from tools.local.metrics import MetricPublisher
from tools.local.tests.emulated import REGION, emulated_account

ACCOUNT = "123456789012"


def alarm(name: str, dimensions: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "AlarmName": name,
            "Namespace": "AWS/Lambda",
            "MetricName": "Errors",
            "Dimensions": dimensions,
            "Statistic": "Sum",
            "Period": 60,
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "EvaluationPeriods": 1,
            "TreatMissingData": "notBreaching",
        },
    }


def stage(dashboard_part: Any = None) -> DeployedStage:
    ingest = DeployedStack(
        name="iot-sandbox-ingest",
        template={
            "Resources": {
                "Fn": {"Type": "AWS::Lambda::Function", "Properties": {}},
                "Rollback": alarm(
                    "iot-sandbox-deploy-errors",
                    [
                        {"Name": "FunctionName", "Value": {"Ref": "Fn"}},
                        {"Name": "Resource", "Value": {"Fn::Join": ["", [{"Ref": "Fn"}, ":live"]]}},
                    ],
                ),
            }
        },
        outputs={},
        physical_ids={"Fn": "processor-fn"},
    )
    observability = DeployedStack(
        name="iot-sandbox-observability",
        template={
            "Parameters": {
                "FunctionParam": {"Type": "AWS::SSM::Parameter::Value<String>", "Default": "/iot/sandbox/fn"},
            },
            "Resources": {
                "Errors": alarm("iot-sandbox-errors", [{"Name": "FunctionName", "Value": {"Ref": "FunctionParam"}}]),
                "Unhealthy": {
                    "Type": "AWS::CloudWatch::CompositeAlarm",
                    "Properties": {
                        "AlarmName": "iot-sandbox-unhealthy",
                        "AlarmRule": {"Fn::Join": ["", ['ALARM("', {"Fn::GetAtt": ["Errors", "Arn"]}, '")']]},
                    },
                },
                "Board": {
                    "Type": "AWS::CloudWatch::Dashboard",
                    "Properties": {
                        "DashboardBody": {
                            "Fn::Join": [
                                "",
                                ['{"region": "', {"Ref": "AWS::Region"}, '", "alarms": ["',
                                 dashboard_part or {"Fn::GetAtt": ["Unhealthy", "Arn"]}, '"]}'],
                            ]
                        }
                    },
                },
            },
        },
        outputs={},
        physical_ids={},
    )  # fmt: skip
    return DeployedStage(stacks={"ingest": ingest, "observability": observability})


@pytest.fixture
def aws() -> Iterator[None]:
    with emulated_account():
        boto3.client("ssm", region_name=REGION).put_parameter(
            Name="/iot/sandbox/fn", Value="processor-fn", Type="String"
        )
        yield


def test_alarms_and_dashboards_are_read_with_every_reference_resolved(aws: None) -> None:
    monitoring = stage_monitoring(stage(), account=ACCOUNT, region=REGION)
    rollback, errors, composite = monitoring.alarms
    assert isinstance(rollback, MetricAlarm)
    assert isinstance(errors, MetricAlarm)
    assert rollback.result.stat
    assert rollback.result.stat.dimensions == (
        ("FunctionName", "processor-fn"),
        ("Resource", "processor-fn:live"),
    )
    assert errors.result.stat
    assert errors.result.stat.dimensions == (("FunctionName", "processor-fn"),)
    assert composite == CompositeAlarm(
        name="iot-sandbox-unhealthy", rule=f'ALARM("arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:iot-sandbox-errors")'
    )
    assert monitoring.dashboards == [
        {"region": REGION, "alarms": [f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:iot-sandbox-unhealthy"]}
    ]


@pytest.mark.parametrize(
    ("reference", "problem"),
    [({"Ref": "Nowhere"}, "'Nowhere' is not known here"), ({"Fn::GetAtt": ["Fn", "Arn"]}, "'Fn.Arn' is not known")],
)
def test_a_reference_the_deployment_cannot_answer_is_an_error_naming_it(
    aws: None, reference: Any, problem: str
) -> None:
    with pytest.raises(TemplateError, match=problem):
        stage_monitoring(stage(reference), account=ACCOUNT, region=REGION)


def in_cloudwatch(alarms: list[Alarm]) -> None:
    """The alarms as the emulator's CloudFormation creates them (moto has no PutCompositeAlarm)."""
    backend = cloudwatch_backends[ACCOUNT][REGION]
    for each in alarms:
        rule = {"AlarmRule": each.rule} if isinstance(each, CompositeAlarm) else {}
        backend.put_metric_alarm(**alarm_arguments({"AlarmName": each.name, **rule}, each.name))


def test_the_watch_puts_what_the_loops_published_before_it_evaluates(aws: None) -> None:
    monitoring = stage_monitoring(stage(), account=ACCOUNT, region=REGION)
    in_cloudwatch(monitoring.alarms)
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    metrics = MetricPublisher(cloudwatch)
    watch = AlarmWatch(monitoring.alarms, metrics, period_override=60, cloudwatch=cloudwatch)
    assert set(watch.evaluate_now().values()) == {State.OK}
    metrics.add("AWS/Lambda", "Errors", 1, dimensions={"FunctionName": "processor-fn"}, at=time.time())
    states = watch.evaluate_now()  # without a flush first, CloudWatch would not have it yet
    assert states == {
        "iot-sandbox-deploy-errors": State.OK,  # another dimension set: the alias's
        "iot-sandbox-errors": State.ALARM,
        "iot-sandbox-unhealthy": State.ALARM,
    }
    watch.start()
    watch.stop()
    assert json.dumps([t.alarm for t in watch.evaluator.transitions]).count("iot-sandbox-errors") == 2


def test_the_watch_sets_each_evaluated_state_in_cloudwatch_with_the_evaluators_reason(aws: None) -> None:
    monitoring = stage_monitoring(stage(), account=ACCOUNT, region=REGION)
    in_cloudwatch(monitoring.alarms)
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    metrics = MetricPublisher(cloudwatch)
    watch = AlarmWatch(monitoring.alarms, metrics, period_override=60, cloudwatch=cloudwatch)
    metrics.add("AWS/Lambda", "Errors", 1, dimensions={"FunctionName": "processor-fn"}, at=time.time())
    watch.evaluate_now()
    found = cloudwatch.describe_alarms(AlarmTypes=["CompositeAlarm", "MetricAlarm"])
    states = {a["AlarmName"]: (a["StateValue"], a["StateReason"]) for k in found if "Alarms" in k for a in found[k]}
    assert states["iot-sandbox-unhealthy"] == ("ALARM", "ALARM: members in ALARM: iot-sandbox-errors")
    assert states["iot-sandbox-errors"][0] == "ALARM"
    assert states["iot-sandbox-deploy-errors"][0] == "OK"
    assert states["iot-sandbox-errors"][1].startswith("ALARM: newest datapoint 1;")


def test_an_alarm_the_deploy_did_not_create_in_cloudwatch_stops_the_watch_naming_it(aws: None) -> None:
    monitoring = stage_monitoring(stage(), account=ACCOUNT, region=REGION)
    in_cloudwatch([a for a in monitoring.alarms if a.name != "iot-sandbox-errors"])
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    watch = AlarmWatch(monitoring.alarms, MetricPublisher(cloudwatch), period_override=60, cloudwatch=cloudwatch)
    with pytest.raises(AlarmNotDeployedError, match="the alarm iot-sandbox-errors of the stage's templates is not in"):
        watch.evaluate_now()
