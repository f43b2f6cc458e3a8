"""The MQTT front door: its configuration, the topic rule's SQL and actions, its role, and the device policy."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Template

from services.iot_processor.config import IngestConfig
from services.iot_processor.infra.mqtt import THING_NAME, device_topic
from services.iot_processor.infra.stack import SMOKE_TEST_DEVICE
from services.iot_processor.tests.stacks import synthesize_ingest
from shared.config import ConfigError, committed_context, load_section
from shared.infra.naming import MQTT_ERROR_PREFIX
from shared.testing.templates import Statement, arn, objects_in, ref

pytestmark = pytest.mark.synth  # synthesizes stacks or the Lambda asset: not in `make unit`

ACCOUNTS = {"dev": "222222222222", "staging": "333333333333", "prod": "444444444444"}


def _load(stage: str, **overrides: Any) -> IngestConfig:
    return load_section({**committed_context(), **overrides}, IngestConfig, "stages", stage, "ingest")


# --- configuration -------------------------------------------------------------------------------------------------


def test_mqtt_is_on_in_dev_and_off_in_staging_and_prod_as_committed() -> None:
    assert {name: _load(name).mqtt.enabled for name in ACCOUNTS} == {"dev": True, "staging": False, "prod": False}
    assert _load("dev").mqtt.topic_filter == "sensors/+/readings"


def test_mqtt_can_be_switched_on_for_one_stage_from_the_command_line() -> None:
    overrides = {"iot.stages.prod.ingest.mqtt.enabled": "true", "iot.stages.dev.ingest.mqtt.enabled": "false"}
    assert _load("prod", **overrides).mqtt.enabled is True
    assert _load("dev", **overrides).mqtt.enabled is False


def test_enabled_must_be_a_boolean() -> None:
    with pytest.raises(ConfigError, match=r"stages\.prod\.ingest\.mqtt\.enabled: must be true or false, got 'yes'"):
        _load("prod", **{"iot.stages.prod.ingest.mqtt.enabled": "yes"})


@pytest.mark.parametrize(
    ("topic_filter", "level"),
    [("+", 1), ("sensors/+/readings", 2), ("a/b/c/d/e/f/g/+", 8), ("+/b/c/d/e/f/g/h", 1), ("plant_1/site-a/+", 3)],
)
def test_a_topic_filter_with_one_device_level_is_accepted(topic_filter: str, level: int) -> None:
    mqtt = _load("dev", **{"iot.stages.dev.ingest.mqtt.topicFilter": topic_filter}).mqtt
    assert mqtt.device_level == level


@pytest.mark.parametrize(
    "topic_filter",
    [
        "sensors/readings",  # no device level
        "sensors/+/+/readings",  # two
        "sensors/#",
        "sensors/+/#",
        "$aws/things/+/shadow",
        "sensors/+/read'ings",  # would break out of the rule's SQL string
        "sensors//+",
        "/sensors/+",
        "a/b/c/d/e/f/g/h/+",  # 9 levels
        "sensors/+/readings/",
    ],
)
def test_any_other_topic_filter_is_rejected_naming_the_field(topic_filter: str) -> None:
    with pytest.raises(ConfigError, match=r"stages\.dev\.ingest\.mqtt\.topicFilter: must be an MQTT topic filter"):
        _load("dev", **{"iot.stages.dev.ingest.mqtt.topicFilter": topic_filter})


def test_a_device_topic_replaces_only_the_device_level() -> None:
    assert device_topic("sensors/+/readings", "dev-7") == "sensors/dev-7/readings"
    assert device_topic("+/readings", THING_NAME) == f"{THING_NAME}/readings"


# --- templates -----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def templates() -> dict[str, Template]:
    return {name: service.template for name, service in synthesize_ingest().items()}


def _one(template: Template, resource_type: str) -> tuple[str, dict[str, Any]]:
    ((logical_id, resource),) = template.find_resources(resource_type).items()
    return logical_id, resource["Properties"]


def _logical_id(template: Template, output: str) -> str:
    value = template.to_json()["Outputs"][output]["Value"]
    found = value["Ref"] if "Ref" in value else value["Fn::GetAtt"][0]
    assert isinstance(found, str)
    return found


@pytest.fixture(scope="module")
def dev(templates: dict[str, Template]) -> Template:
    return templates["dev"]


def test_the_rule_selects_every_message_on_the_topic_filter_unchanged(dev: Template) -> None:
    _, rule = _one(dev, "AWS::IoT::TopicRule")
    payload = rule["TopicRulePayload"]
    assert payload["Sql"] == "SELECT * FROM 'sensors/+/readings'"
    assert payload["AwsIotSqlVersion"] == "2016-03-23"
    assert payload["RuleDisabled"] is False


def test_the_rule_puts_on_the_readings_stream_keyed_by_the_device_level_of_the_topic(dev: Template) -> None:
    _, rule = _one(dev, "AWS::IoT::TopicRule")
    role = _one(dev, "AWS::IoT::TopicRule")[1]["TopicRulePayload"]["Actions"][0]["Kinesis"]["RoleArn"]
    assert rule["TopicRulePayload"]["Actions"] == [
        {
            "Kinesis": {
                "StreamName": ref(_logical_id(dev, "StreamName")),
                "PartitionKey": "${topic(2)}",
                "RoleArn": role,
            }
        }
    ]


def test_the_rules_errors_go_to_the_failure_bucket_under_their_own_prefix(dev: Template) -> None:
    _, rule = _one(dev, "AWS::IoT::TopicRule")
    error = rule["TopicRulePayload"]["ErrorAction"]
    assert set(error) == {"S3"}
    assert error["S3"]["BucketName"] == ref(_logical_id(dev, "FailureBucketName"))
    assert error["S3"]["Key"].startswith(MQTT_ERROR_PREFIX)
    assert "${newuuid()}" in error["S3"]["Key"]  # two errors in the same instant never overwrite each other
    assert error["S3"]["RoleArn"] == rule["TopicRulePayload"]["Actions"][0]["Kinesis"]["RoleArn"]


def _rule_role(template: Template) -> tuple[str, list[Statement]]:
    _, rule = _one(template, "AWS::IoT::TopicRule")
    role: str = rule["TopicRulePayload"]["Actions"][0]["Kinesis"]["RoleArn"]["Fn::GetAtt"][0]
    statements = [
        Statement.of(raw)
        for policy in template.find_resources("AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"]["Roles"]
        for raw in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    return role, statements


def test_the_rule_role_can_put_records_and_write_error_objects_and_nothing_else(dev: Template) -> None:
    role, statements = _rule_role(dev)
    body = dev.to_json()["Resources"]
    stream, bucket = _logical_id(dev, "StreamName"), _logical_id(dev, "FailureBucketName")
    stream_key = body[stream]["Properties"]["StreamEncryption"]["KeyId"]
    bucket_key = body[bucket]["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
        "ServerSideEncryptionByDefault"
    ]["KMSMasterKeyID"]
    granted = {(action, str(resource)) for s in statements for action in s.actions for resource in s.resources}
    assert granted == {
        ("kinesis:PutRecord", str(arn(stream))),
        ("s3:PutObject", str(objects_in(bucket, f"{MQTT_ERROR_PREFIX}*"))),
        ("kms:GenerateDataKey", str(stream_key)),
        ("kms:GenerateDataKey", str(bucket_key)),
    }
    assert all(s.effect == "Allow" for s in statements)
    assert "ManagedPolicyArns" not in body[role]["Properties"]


def test_the_rule_and_device_policy_have_names_a_person_and_the_execution_policy_can_find(dev: Template) -> None:
    assert _one(dev, "AWS::IoT::TopicRule")[1]["RuleName"] == "iot_dev_readings"
    assert _one(dev, "AWS::IoT::Policy")[1]["PolicyName"] == "iot-dev-device-readings"


def test_only_this_rule_may_assume_the_rule_role(dev: Template) -> None:
    role, _ = _rule_role(dev)
    trust = dev.to_json()["Resources"][role]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust == [
        {
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Principal": {"Service": "iot.amazonaws.com"},
            "Condition": {
                "StringEquals": {"aws:SourceAccount": ACCOUNTS["dev"]},
                "ArnEquals": {"aws:SourceArn": f"arn:aws:iot:eu-west-1:{ACCOUNTS['dev']}:rule/iot_dev_readings"},
            },
        }
    ]


def test_the_device_policy_lets_a_thing_connect_as_itself_and_publish_on_its_own_topic_only(dev: Template) -> None:
    _, policy = _one(dev, "AWS::IoT::Policy")
    prefix = f"arn:aws:iot:eu-west-1:{ACCOUNTS['dev']}"
    assert policy["PolicyDocument"]["Statement"] == [
        {
            "Sid": "ConnectAsItsOwnThing",
            "Effect": "Allow",
            "Action": "iot:Connect",
            "Resource": f"{prefix}:client/${{iot:Connection.Thing.ThingName}}",
            "Condition": {"Bool": {"iot:Connection.Thing.IsAttached": "true"}},
        },
        {
            "Sid": "PublishOnItsOwnTopic",
            "Effect": "Allow",
            "Action": "iot:Publish",
            "Resource": f"{prefix}:topic/sensors/${{iot:Connection.Thing.ThingName}}/readings",
        },
    ]


def test_the_smoke_test_role_may_publish_as_the_smoke_test_device_only(dev: Template) -> None:
    smoke_role = _logical_id(dev, "SmokeTestRoleArn")
    statements = [
        Statement.of(raw)
        for policy in dev.find_resources("AWS::IAM::Policy").values()
        if {"Ref": smoke_role} in policy["Properties"]["Roles"]
        for raw in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    iot = {(a, str(r)) for s in statements for a in s.actions if a.startswith("iot:") for r in s.resources}
    assert iot == {
        ("iot:Publish", f"arn:aws:iot:eu-west-1:{ACCOUNTS['dev']}:topic/sensors/{SMOKE_TEST_DEVICE}/readings"),
        ("iot:DescribeEndpoint", "*"),
    }
    outputs = dev.to_json()["Outputs"]
    assert outputs["MqttSmokeTestTopic"]["Value"] == f"sensors/{SMOKE_TEST_DEVICE}/readings"
    assert outputs["MqttTopicFilter"]["Value"] == "sensors/+/readings"
    assert outputs["MqttDevicePolicyName"]["Value"] == "iot-dev-device-readings"


@pytest.mark.parametrize("name", ["staging", "prod"])
def test_a_stage_with_mqtt_off_has_no_rule_policy_role_or_outputs(templates: dict[str, Template], name: str) -> None:
    template = templates[name]
    template.resource_count_is("AWS::IoT::TopicRule", 0)
    template.resource_count_is("AWS::IoT::Policy", 0)
    assert not any(output.startswith("Mqtt") for output in template.to_json()["Outputs"])
    assert "iot.amazonaws.com" not in str(template.find_resources("AWS::IAM::Role"))


def test_switching_mqtt_on_in_prod_with_another_topic_filter_follows_the_filter() -> None:
    """One more synth of prod's ingest stack, which nag checks too: the rule and policy follow the config."""
    overrides = {
        "iot.stages.prod.ingest.mqtt.enabled": "true",
        "iot.stages.prod.ingest.mqtt.topicFilter": "plant/+/telemetry/v1",
    }
    template = synthesize_ingest(overrides, only="prod")["prod"].template
    _, rule = _one(template, "AWS::IoT::TopicRule")
    assert rule["TopicRulePayload"]["Sql"] == "SELECT * FROM 'plant/+/telemetry/v1'"
    assert rule["TopicRulePayload"]["Actions"][0]["Kinesis"]["PartitionKey"] == "${topic(2)}"
    _, policy = _one(template, "AWS::IoT::Policy")
    assert policy["PolicyDocument"]["Statement"][1]["Resource"] == (
        "arn:aws:iot:eu-west-1:444444444444:topic/plant/${iot:Connection.Thing.ThingName}/telemetry/v1"
    )
