"""The emulator's call log read as calls, and each call as the IAM requests AWS authorizes for it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from tools.local.emulator import embedded_aws
from tools.rehearsal.calls import Call, CallLogError, IamRequest, iam_requests, read_calls

REGION = "eu-west-1"
SESSION = "arn:aws:sts::111111111111:assumed-role/iot-pipeline-SmokeTestDevRole/codebuild-SmokeTestDev"


def _call(service: str, operation: str, *, resource: str = "*", **params: Any) -> Call:
    return Call(
        principal=SESSION, service=service, operation=operation, resource=resource, account="222222222222",
        params=params,
    )  # fmt: skip


def _line(**fields: Any) -> str:
    return json.dumps({"service": "sqs", "action": "SendMessage", "resource": "*", "account": "1", "principal": None,
                       "params": {}, **fields}) + "\n"  # fmt: skip


def test_an_assumed_role_sessions_role_is_named_and_other_callers_have_none() -> None:
    assert _call("sqs", "SendMessage").role_arn == "arn:aws:iam::111111111111:role/iot-pipeline-SmokeTestDevRole"
    default = Call(principal=None, service="sqs", operation="SendMessage", resource="*", account="1", params={})
    assert default.role_arn is None
    user = Call(principal="arn:aws:iam::1:user/me", service="sqs", operation="SendMessage", resource="*", account="1",
                params={})  # fmt: skip
    assert user.role_arn is None


def test_the_log_is_read_from_an_offset_to_its_last_complete_line(tmp_path: Path) -> None:
    log = tmp_path / "calls.jsonl"
    assert read_calls(log) == ([], 0)
    log.write_text(_line(action="One") + _line(action="Two") + '{"service": "sq', encoding="utf-8")
    calls, offset = read_calls(log)
    assert [c.operation for c in calls] == ["One", "Two"]
    with log.open("a", encoding="utf-8") as file:
        file.write('s", "action": "Three", "resource": "*", "account": "1", "principal": null}\n')
    later, end = read_calls(log, offset=offset)
    assert [c.operation for c in later] == ["Three"]
    assert end == log.stat().st_size


def test_a_line_that_is_not_a_call_is_refused_naming_where_it_is(tmp_path: Path) -> None:
    log = tmp_path / "calls.jsonl"
    log.write_text(_line() + '{"service": "sqs"}\n', encoding="utf-8")
    with pytest.raises(CallLogError, match=rf"at byte {len(_line())}: KeyError\('principal'\)"):
        read_calls(log)


def test_a_resource_moto_names_is_kept_and_batch_operations_are_authorized_as_their_single_action() -> None:
    queue = "arn:aws:sqs:eu-west-1:222222222222:iot-dev-queue"
    assert iam_requests(_call("sqs", "SendMessageBatch", resource=queue), region=REGION) == [
        IamRequest(action="sqs:SendMessage", resource=queue, account="222222222222")
    ]


def test_resources_are_built_from_the_parameters_where_moto_names_none() -> None:
    tables = iam_requests(_call("dynamodb", "BatchWriteItem", RequestItems=["readings", "devices"]), region=REGION)
    assert [r.resource for r in tables] == [
        "arn:aws:dynamodb:eu-west-1:222222222222:table/readings",
        "arn:aws:dynamodb:eu-west-1:222222222222:table/devices",
    ]
    index = iam_requests(_call("dynamodb", "Query", TableName="readings", IndexName="by-day"), region=REGION)
    assert index[0].resource == "arn:aws:dynamodb:eu-west-1:222222222222:table/readings/index/by-day"
    parameter = iam_requests(_call("ssm", "GetParameter", Name="/iot/dev/topic"), region=REGION)
    assert parameter[0].resource == "arn:aws:ssm:eu-west-1:222222222222:parameter/iot/dev/topic"
    stack = iam_requests(_call("cloudformation", "GetTemplate", StackName="iot-prod-ingest"), region=REGION)
    assert stack[0].resource == "arn:aws:cloudformation:eu-west-1:222222222222:stack/iot-prod-ingest/rehearsal"
    alarm = iam_requests(_call("monitoring", "DescribeAlarms", AlarmNames=["iot-dev-health"]), region=REGION)
    assert [(r.action, r.resource) for r in alarm] == [
        ("cloudwatch:DescribeAlarms", "arn:aws:cloudwatch:eu-west-1:222222222222:alarm:iot-dev-health")
    ]
    stream = iam_requests(_call("kinesis", "PutRecords", StreamARN="arn:aws:kinesis:eu-west-1:333333333333:stream/s"),
                          region=REGION)  # fmt: skip
    assert (stream[0].resource, stream[0].account) == (
        "arn:aws:kinesis:eu-west-1:333333333333:stream/s",
        "333333333333",
    )


def test_an_operation_without_a_named_resource_is_asked_on_any_resource_and_get_caller_identity_not_at_all() -> None:
    assert iam_requests(_call("monitoring", "DescribeAlarms"), region=REGION) == [
        IamRequest(action="cloudwatch:DescribeAlarms", resource="*", account="222222222222")
    ]
    assert iam_requests(_call("sts", "GetCallerIdentity"), region=REGION) == []


def test_the_emulators_log_names_each_calls_caller_and_the_resources_of_json_requests(tmp_path: Path) -> None:
    log = tmp_path / "calls.jsonl"
    with embedded_aws(REGION, call_log=log):
        dynamodb = boto3.client("dynamodb")
        for table in ("readings", "devices"):
            dynamodb.create_table(
                TableName=table, BillingMode="PAY_PER_REQUEST",
                KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            )  # fmt: skip
        keys: Any = {"Keys": [{"id": {"S": "one"}}]}
        dynamodb.batch_get_item(RequestItems={"readings": keys, "devices": keys})
        boto3.client("s3").create_bucket(
            Bucket="iot-calls", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )
        boto3.client("s3").list_objects_v2(Bucket="iot-calls", Prefix="readings/")
        queue = boto3.client("sqs").create_queue(QueueName="iot-calls")["QueueUrl"]
        boto3.client("sqs").send_message(QueueUrl=queue, MessageBody="{}")
    calls, _ = read_calls(log)
    batch = next(call for call in calls if call.operation == "BatchGetItem")
    assert sorted(r.resource for r in iam_requests(batch, region=REGION)) == [
        f"arn:aws:dynamodb:{REGION}:{batch.account}:table/devices",
        f"arn:aws:dynamodb:{REGION}:{batch.account}:table/readings",
    ]
    (listed,) = iam_requests(next(call for call in calls if call.operation == "ListBucket"), region=REGION)
    assert (listed.resource, listed.context) == ("arn:aws:s3:::iot-calls", {"s3:prefix": "readings/"})
    sent = next(call for call in calls if call.operation == "SendMessage")
    assert sent.resource.endswith(":iot-calls")
    assert sent.principal is None  # the emulator's default credentials, no assumed role


def test_the_condition_keys_a_request_carries_go_with_it() -> None:
    bucket = "arn:aws:s3:::iot-dev-archive"
    (listed,) = iam_requests(_call("s3", "ListBucket", resource=bucket, prefix="readings/"), region=REGION)
    assert listed.context == {"s3:prefix": "readings/"}
    (unprefixed,) = iam_requests(_call("s3", "ListBucket", resource=bucket), region=REGION)
    assert unprefixed.context == {}
