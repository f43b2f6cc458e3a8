"""The emulator's CloudFormation shortcuts (ADR 0012): a change set creates and updates a stack as CreateStack and
UpdateStack do, and GetTemplate answers with the template the deploy was given as synthesized; with the call log on,
a role's inline and managed policies in a template read back as IAM gives them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from shared.fault_injection import EXTENSION_LAYER_PARAMETER
from tools.local.deploy import prepare_template
from tools.local.emulator import LOCAL_ACCOUNT, LOCAL_REGION, Emulator, embedded_aws

READ_ONLY = "arn:aws:iam::aws:policy/AWSCloudFormationReadOnlyAccess"
TEMPLATE: dict[str, Any] = {
    "Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "iot-shortcut"}}},
    "Outputs": {"TopicArn": {"Value": {"Ref": "Topic"}}, "Name": {"Value": "first"}},
}


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with embedded_aws(LOCAL_REGION) as running:
        yield running


def _outputs(cloudformation: Any, name: str) -> dict[str, str]:
    stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def _change_set(cloudformation: Any, name: str, template: dict[str, Any], kind: str) -> None:
    cloudformation.create_change_set(
        StackName=name, ChangeSetName="Change", ChangeSetType=kind, TemplateBody=json.dumps(template)
    )
    cloudformation.execute_change_set(StackName=name, ChangeSetName="Change")


def test_a_stack_created_and_updated_through_change_sets_has_create_and_update_stacks_outputs(
    emulator: Emulator,
) -> None:
    cloudformation = boto3.client("cloudformation")
    cloudformation.create_stack(StackName="direct", TemplateBody=json.dumps(TEMPLATE))
    _change_set(cloudformation, "through-change-set", TEMPLATE, "CREATE")
    assert _outputs(cloudformation, "through-change-set") == _outputs(cloudformation, "direct")
    assert _outputs(cloudformation, "through-change-set")["Name"] == "first"

    updated = {**TEMPLATE, "Outputs": {**TEMPLATE["Outputs"], "Name": {"Value": "second"}}}
    cloudformation.update_stack(StackName="direct", TemplateBody=json.dumps(updated))
    _change_set(cloudformation, "through-change-set", updated, "UPDATE")
    assert _outputs(cloudformation, "through-change-set") == _outputs(cloudformation, "direct")
    assert _outputs(cloudformation, "through-change-set")["Name"] == "second"
    status = cloudformation.describe_stacks(StackName="through-change-set")["Stacks"][0]["StackStatus"]
    assert status == "UPDATE_COMPLETE"


def test_get_template_answers_with_the_synthesized_template_not_the_prepared_one(emulator: Emulator) -> None:
    synthesized = {
        "Resources": {
            "Queue": {"Type": "AWS::SQS::Queue"},
            "Alarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {"AlarmName": {"Ref": "Queue"}}},
        }
    }
    prepared = prepare_template(
        synthesized, account=LOCAL_ACCOUNT, region=LOCAL_REGION, modelled_types=emulator.modelled_types
    )
    assert "Alarm" in prepared["Resources"]
    assert prepared != synthesized
    cloudformation = boto3.client("cloudformation")
    cloudformation.create_stack(StackName="prepared", TemplateBody=json.dumps(prepared))
    body = cloudformation.get_template(StackName="prepared")["TemplateBody"]
    assert (body if isinstance(body, dict) else json.loads(body)) == synthesized
    cloudformation.create_stack(StackName="plain", TemplateBody=json.dumps(TEMPLATE))
    plain = cloudformation.get_template(StackName="plain")["TemplateBody"]
    assert (plain if isinstance(plain, dict) else json.loads(plain)) == TEMPLATE


def test_the_fis_extensions_public_parameter_stands_in_as_a_layer_published_once_in_the_account(
    emulator: Emulator,
) -> None:
    ssm_typed = "AWS::SSM::Parameter::Value<String>"
    synthesized: dict[str, Any] = {
        "Parameters": {
            "Extension": {"Type": ssm_typed, "Default": EXTENSION_LAYER_PARAMETER},
            "Other": {"Type": ssm_typed, "Default": "/cdk-bootstrap/hnb659fds/version"},
        },
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Ref": "Extension"}}}},
    }
    first, second = (
        prepare_template(
            synthesized, account=LOCAL_ACCOUNT, region=LOCAL_REGION, modelled_types=emulator.modelled_types
        )
        for _ in range(2)
    )
    assert list(first["Parameters"]) == ["Other"]  # AWS's reserved /aws/ name is gone; the account's own stays
    layer_arn = first["Resources"]["Queue"]["Properties"]["QueueName"]
    assert second["Resources"]["Queue"]["Properties"]["QueueName"] == layer_arn
    published = boto3.client("lambda").list_layer_versions(LayerName="AWS-FIS-extension-arm64")["LayerVersions"]
    assert [version["LayerVersionArn"] for version in published] == [layer_arn]
    assert "Extension" in synthesized["Parameters"]  # the synthesized template is left as it was


def test_a_roles_policies_from_a_template_read_back_as_their_documents(tmp_path: Path) -> None:
    """With the call log on (the pipeline rehearsal's emulator), whose calls are evaluated against these policies."""
    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
    trust = {
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]
    }
    role = {
        "RoleName": "iot-inline",
        "AssumeRolePolicyDocument": trust,
        "Policies": [{"PolicyName": "Read", "PolicyDocument": document}],
        "ManagedPolicyArns": [READ_ONLY],
    }
    template = {"Resources": {"Role": {"Type": "AWS::IAM::Role", "Properties": role}}}
    with embedded_aws(LOCAL_REGION, call_log=tmp_path / "calls.jsonl"):
        boto3.client("cloudformation").create_stack(StackName="inline-policy", TemplateBody=json.dumps(template))
        iam = boto3.client("iam")
        document_read = iam.get_role_policy(RoleName="iot-inline", PolicyName="Read")["PolicyDocument"]
        attached = iam.list_attached_role_policies(RoleName="iot-inline")["AttachedPolicies"]
        version = iam.get_policy(PolicyArn=READ_ONLY)["Policy"]["DefaultVersionId"]
        read_only = iam.get_policy_version(PolicyArn=READ_ONLY, VersionId=version)["PolicyVersion"]["Document"]
    assert document_read == document
    assert [policy["PolicyArn"] for policy in attached] == [READ_ONLY]
    assert any("cloudformation:Describe*" in statement["Action"] for statement in read_only["Statement"])
