"""The MQTT front door: devices publish readings to AWS IoT Core, and a topic rule puts them on the stream.

Devices then need no AWS credentials, only their X.509 certificate and the device policy below, which lets
a device connect as its own thing and publish on its own topic only. The rule keeps each payload as sent
(``SELECT *`` passes JSON and non-JSON alike), so the processor validates MQTT readings exactly as it
validates readings put by any other producer. The partition key is the topic's device level: one device's
readings stay in order on one shard, and IoT Core's per-connection publish limit (100 messages/s) keeps any
one device far below a shard's 1,000 records/s. A put the rule cannot make goes to the failure bucket under
its own prefix, with the original payload in base64.
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_iot as iot
from constructs import Construct

from services.iot_processor.config import MqttConfig
from services.iot_processor.infra.storage import ReadingsStorage
from services.iot_processor.infra.stream import ReadingsStream
from shared.infra.naming import MQTT_ERROR_PREFIX

IOT_SQL_VERSION = "2016-03-23"
THING_NAME = "${iot:Connection.Thing.ThingName}"  # an IoT policy variable, resolved per connection


def device_topic(topic_filter: str, device: str) -> str:
    """The topic one device publishes on: the filter's ``+`` level replaced by the device's name."""
    return "/".join(device if level == "+" else level for level in topic_filter.split("/"))


class MqttFrontDoor(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: MqttConfig,
        rule_name: str,
        device_policy_name: str,
        readings: ReadingsStream,
        storage: ReadingsStorage,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.topic_filter = config.topic_filter
        rule_arn = stack.format_arn(service="iot", resource="rule", resource_name=rule_name)
        self.role = iam.Role(
            self,
            "RuleRole",
            description="The readings topic rule: put on the readings stream; on error, write to the failure bucket",
            assumed_by=iam.ServicePrincipal(
                "iot.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnEquals": {"aws:SourceArn": rule_arn},
                },
            ),
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="PutReadings", actions=["kinesis:PutRecord"], resources=[readings.stream.stream_arn]
            )
        )
        readings.key.grant(self.role, "kms:GenerateDataKey")
        error_objects = storage.failure_bucket.arn_for_objects(f"{MQTT_ERROR_PREFIX}*")
        self.role.add_to_policy(
            iam.PolicyStatement(sid="WriteRuleErrors", actions=["s3:PutObject"], resources=[error_objects])
        )
        storage.key.grant(self.role, "kms:GenerateDataKey")
        self.rule = iot.CfnTopicRule(
            self,
            "Rule",
            rule_name=rule_name,
            topic_rule_payload=iot.CfnTopicRule.TopicRulePayloadProperty(
                description=f"Readings published on {config.topic_filter}, unchanged, onto the readings stream",
                sql=f"SELECT * FROM '{config.topic_filter}'",  # noqa: S608 - the config admits plain segments only
                aws_iot_sql_version=IOT_SQL_VERSION,
                rule_disabled=False,
                actions=[
                    iot.CfnTopicRule.ActionProperty(
                        kinesis=iot.CfnTopicRule.KinesisActionProperty(
                            stream_name=readings.stream.stream_name,
                            partition_key=f"${{topic({config.device_level})}}",
                            role_arn=self.role.role_arn,
                        )
                    )
                ],
                error_action=iot.CfnTopicRule.ActionProperty(
                    s3=iot.CfnTopicRule.S3ActionProperty(
                        bucket_name=storage.failure_bucket.bucket_name,
                        key=f"{MQTT_ERROR_PREFIX}${{parse_time('yyyy/MM/dd', timestamp())}}/${{newuuid()}}.json",
                        role_arn=self.role.role_arn,
                    )
                ),
            ),
        )
        self.device_policy = iot.CfnPolicy(
            self,
            "DevicePolicy",
            policy_name=device_policy_name,
            policy_document={
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "ConnectAsItsOwnThing",
                        "Effect": "Allow",
                        "Action": "iot:Connect",
                        "Resource": stack.format_arn(service="iot", resource="client", resource_name=THING_NAME),
                        "Condition": {"Bool": {"iot:Connection.Thing.IsAttached": "true"}},
                    },
                    {
                        "Sid": "PublishOnItsOwnTopic",
                        "Effect": "Allow",
                        "Action": "iot:Publish",
                        "Resource": stack.format_arn(
                            service="iot", resource="topic", resource_name=device_topic(config.topic_filter, THING_NAME)
                        ),
                    },
                ],
            },
        )

    def grant_publish(self, grantee: iam.IGrantable, *, device: str) -> None:
        """Let ``grantee`` publish as ``device`` through IoT Core's data plane (HTTPS), as the smoke test does."""
        stack = Stack.of(self)
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                sid="PublishAsOneDevice",
                actions=["iot:Publish"],
                resources=[
                    stack.format_arn(
                        service="iot", resource="topic", resource_name=device_topic(self.topic_filter, device)
                    )
                ],
            )
        )
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(sid="FindDataEndpoint", actions=["iot:DescribeEndpoint"], resources=["*"])
        )
