"""The change report over two small synthesized assemblies: each change class, and each concern called out.

Before -> after, in a stage stack ``iot-prod-data``: the table's partition key changes (a replacement), an alarm
threshold changes, the role, the key policy, the bucket policy and a security group each gain a statement or rule,
a topic and a bucket are removed, a queue is added. A stack outside the stage stays the same.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_cdk import App, RemovalPolicy, Stack, Stage
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from moto import mock_aws

from tools.common.stack_changes import (
    ChangeKind,
    Concern,
    ReplacementSpec,
    Report,
    ResourceChange,
    assembly_templates,
    compare,
    deployed_templates,
    render_markdown,
    select,
)
from tools.common.testing import moto_credentials

pytestmark = pytest.mark.synth  # synthesizes stacks or the Lambda asset: not in `make unit`

STACK = "iot-prod-data"


def _synthesize(outdir: Path, *, after: bool) -> Path:
    app = App(outdir=str(outdir))
    Stack(app, "Tooling", stack_name="tooling").node.add_metadata("unchanged", True)
    stack = Stack(Stage(app, "Prod"), "Data", stack_name=STACK)
    dynamodb.Table(
        stack,
        "Readings",
        partition_key=dynamodb.Attribute(name="sensor_id" if after else "pk", type=dynamodb.AttributeType.STRING),
        removal_policy=RemovalPolicy.RETAIN,
    )
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    bucket = s3.Bucket(stack, "Archive", encryption_key=key, enforce_ssl=True)
    role = iam.Role(stack, "Reader", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    role.add_to_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=[bucket.arn_for_objects("data/*")]))
    group = ec2.CfnSecurityGroup(stack, "Group", group_description="processor", vpc_id="vpc-12345678")
    metric = cw.Metric(namespace="IotPlatform", metric_name="ReadingsFailed")
    cw.Alarm(stack, "Failed", metric=metric, threshold=5 if after else 1, evaluation_periods=1)
    if after:
        role.add_to_policy(iam.PolicyStatement(actions=["dynamodb:Scan"], resources=["*"]))
        key.add_to_resource_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt"], principals=[iam.AccountPrincipal("999999999999")], resources=["*"]
            )
        )
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"], principals=[iam.AnyPrincipal()], resources=[bucket.arn_for_objects("*")]
            )
        )
        group.security_group_ingress = [ec2.CfnSecurityGroup.IngressProperty(ip_protocol="tcp", cidr_ip="0.0.0.0/0")]
        sqs.Queue(stack, "Inbox", enforce_ssl=True)
    else:
        sns.Topic(stack, "Alerts")
        s3.Bucket(stack, "Scratch", enforce_ssl=True)
    app.synth()
    return outdir


@pytest.fixture(scope="module")
def assemblies(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return (
        _synthesize(tmp_path_factory.mktemp("before"), after=False),
        _synthesize(tmp_path_factory.mktemp("after"), after=True),
    )


@pytest.fixture(scope="module")
def report(assemblies: tuple[Path, Path]) -> Report:
    before, after = assemblies
    return compare(assembly_templates(before), assembly_templates(after), ReplacementSpec.load())


@pytest.fixture(scope="module")
def markdown(report: Report) -> str:
    return render_markdown(report, before_label="before", after_label="after")


def _change(report: Report, resource_type: str, logical_prefix: str = "") -> ResourceChange:
    (change,) = [
        c for c in report.changes if c.resource_type == resource_type and c.logical_id.startswith(logical_prefix)
    ]
    return change


def test_stacks_of_nested_stage_assemblies_are_found_by_stack_name(assemblies: tuple[Path, Path]) -> None:
    assert set(assembly_templates(assemblies[0])) == {"tooling", STACK}
    assert set(select(assembly_templates(assemblies[0]), ["iot-prod-*"])) == {STACK}


def test_an_unchanged_stack_is_listed_as_unchanged(report: Report) -> None:
    assert {stack.name: stack.status for stack in report.stacks} == {"tooling": "unchanged", STACK: "changed"}


def test_a_new_partition_key_replaces_the_table_and_is_flagged_loudly(report: Report, markdown: str) -> None:
    table = _change(report, "AWS::DynamoDB::Table")
    assert table.kind is ChangeKind.REPLACED
    assert table.replacing == ("KeySchema",)
    assert table.scalar_values == ()  # a key schema is not a plain value: named, not printed
    assert Concern.STATEFUL in table.concerns
    assert f"**DANGER: table replaced** `{STACK}` / `{table.logical_id}`" in markdown
    assert markdown.index("DANGER") < markdown.index(f"## {STACK}")  # at the top, before the details


def test_a_changed_alarm_threshold_is_a_plain_modification(report: Report, markdown: str) -> None:
    alarm = _change(report, "AWS::CloudWatch::Alarm")
    assert alarm.scalar_values == (("Threshold", "1", "5"),)
    assert f"| modified | `{alarm.logical_id}` | AWS::CloudWatch::Alarm | Threshold (1 -> 5) |" in markdown
    assert (alarm.kind, alarm.changed, alarm.replacing, alarm.concerns) == (
        ChangeKind.MODIFIED,
        ("Threshold",),
        (),
        frozenset(),
    )


def test_an_added_iam_statement_is_called_out_statement_by_statement(report: Report, markdown: str) -> None:
    (policy,) = report.concerning(Concern.IAM)
    assert policy.resource_type == "AWS::IAM::Policy"
    assert policy.statements_added == ("Allow dynamodb:Scan on * (PolicyDocument)",)
    assert policy.statements_removed == ()
    assert "  - added: `Allow dynamodb:Scan on * (PolicyDocument)`" in markdown


def test_a_key_policy_change_is_called_out(report: Report) -> None:
    (key,) = report.concerning(Concern.KEY_POLICY)
    assert key.resource_type == "AWS::KMS::Key"
    assert key.kind is ChangeKind.MODIFIED
    assert any("kms:Decrypt for {AWS: arn:" in s and "999999999999" in s for s in key.statements_added)


def test_a_bucket_policy_change_is_called_out(report: Report) -> None:
    flagged = {c.logical_id.removesuffix(c.logical_id[-8:]): c for c in report.concerning(Concern.RESOURCE_POLICY)}
    assert set(flagged) == {"ArchivePolicy", "ScratchPolicy", "InboxPolicy"}  # the new queue comes with one
    assert flagged["InboxPolicy"].kind is ChangeKind.ADDED
    assert flagged["ArchivePolicy"].kind is ChangeKind.MODIFIED
    assert [s for s in flagged["ArchivePolicy"].statements_added if s.startswith("Allow s3:GetObject for {AWS: *}")]
    assert flagged["ScratchPolicy"].kind is ChangeKind.REMOVED
    assert flagged["ScratchPolicy"].statements_removed  # the removed bucket's TLS-only policy goes with it


def test_a_security_group_rule_is_called_out_as_network(report: Report) -> None:
    (group,) = report.concerning(Concern.NETWORK)
    assert (group.resource_type, group.changed) == ("AWS::EC2::SecurityGroup", ("SecurityGroupIngress",))


def test_removed_and_added_resources(report: Report, markdown: str) -> None:
    topic = _change(report, "AWS::SNS::Topic")
    assert (topic.kind, topic.concerns) == (ChangeKind.REMOVED, frozenset())
    scratch = _change(report, "AWS::S3::Bucket", "Scratch")
    assert scratch.kind is ChangeKind.REMOVED
    assert Concern.STATEFUL in scratch.concerns
    assert "**DANGER: bucket removed**" in markdown
    assert _change(report, "AWS::SQS::Queue").kind is ChangeKind.ADDED


def test_identical_assemblies_report_nothing(assemblies: tuple[Path, Path]) -> None:
    templates = assembly_templates(assemblies[1])
    report = compare(templates, templates, ReplacementSpec.load())
    assert report.changes == []
    text = render_markdown(report, before_label="a", after_label="a")
    assert text.count("none") == len(Concern)


def test_the_replacement_rules_come_from_the_resource_specification() -> None:
    spec = ReplacementSpec.load()
    assert spec.replacement("AWS::DynamoDB::Table", "KeySchema") == "yes"
    assert spec.replacement("AWS::Kinesis::Stream", "Name") == "yes"
    assert spec.replacement("AWS::CloudWatch::Alarm", "Threshold") is None
    assert spec.replacement("Custom::Unknown", "Anything") == "maybe"  # unknown types: assume the worst


def test_a_type_change_under_the_same_logical_id_is_a_replacement() -> None:
    before: dict[str, Any] = {"Resources": {"Thing": {"Type": "AWS::SNS::Topic", "Properties": {}}}}
    after: dict[str, Any] = {"Resources": {"Thing": {"Type": "AWS::SQS::Queue", "Properties": {}}}}
    (change,) = compare({"s": before}, {"s": after}, ReplacementSpec.load()).changes
    assert (change.kind, change.replacing) == (ChangeKind.REPLACED, ("Type",))


def test_deployed_templates_are_read_and_a_missing_stack_is_new(monkeypatch: pytest.MonkeyPatch) -> None:
    moto_credentials(monkeypatch)
    template = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}
    with mock_aws():
        cloudformation = boto3.client("cloudformation")
        cloudformation.create_stack(StackName="iot-prod-ingest", TemplateBody=json.dumps(template))
        found = deployed_templates(cloudformation, ["iot-prod-ingest", "iot-prod-archive"])
    assert found == {"iot-prod-ingest": template}
